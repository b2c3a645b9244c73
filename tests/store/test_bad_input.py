"""Table-driven bad input: every kind of broken record is quarantined with the exact reason, the good
records of the same file still load, and file-level mistakes raise a clear error and change nothing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from marketloop.errors import InputError, NotFoundError
from marketloop.store.ingest import load_file

ORDER_HEADER = "order_id,customer_id,ordered_at,status,total\n"
GOOD_ORDER = "G1,C1,2024-03-01 10:00:00,completed,10.00\n"

# (entity, header, bad record, field, code, exact reason)
ROW_CASES = [
    (
        "orders",
        ORDER_HEADER,
        "O1,C1,yesterday,completed,10",
        "ordered_at",
        "timestamp",
        "ordered_at: expected a timestamp such as 2024-05-31 14:02:00 (ISO 8601), got 'yesterday'",
    ),
    (
        "orders",
        ORDER_HEADER,
        "O1,C1,2023-02-30 10:00:00,completed,10",
        "ordered_at",
        "timestamp",
        "ordered_at: expected a timestamp such as 2024-05-31 14:02:00 (ISO 8601), got '2023-02-30 10:00:00'",
    ),
    (
        "orders",
        ORDER_HEADER,
        "O1,C1,1970-01-01 00:00:00,completed,10",
        "ordered_at",
        "timestamp",
        "ordered_at: 1970-01-01 00:00:00 is before 1990-01-01, not a plausible date",
    ),
    (
        "orders",
        ORDER_HEADER,
        "O1,C1,2999-01-01 00:00:00,completed,10",
        "ordered_at",
        "timestamp",
        "ordered_at: 2999-01-01 00:00:00 is in the future",
    ),
    (
        "orders",
        ORDER_HEADER,
        ",C1,2024-03-01 10:00:00,completed,10",
        "order_id",
        "missing",
        "order_id: required value is missing",
    ),
    (
        "orders",
        ORDER_HEADER,
        "O1,C1,2024-03-01 10:00:00,shipped,10",
        "status",
        "enum",
        "status: expected one of completed, cancelled, returned, pending, got 'shipped'",
    ),
    (
        "orders",
        ORDER_HEADER,
        "O1,C1,2024-03-01 10:00:00,completed,ten",
        "total",
        "type",
        "total: expected a number, got 'ten'",
    ),
    (
        "orders",
        ORDER_HEADER,
        "G1,C2,2024-03-02 10:00:00,completed,5",
        "order_id",
        "duplicate",
        "duplicate key (order_id) = (G1): first seen on line 2",
    ),
    (
        "orders",
        ORDER_HEADER,
        "O1,C1,2024-03-01 10:00:00,completed",
        "(row)",
        "columns",
        "record has 4 columns, expected 5",
    ),
    (
        "orders",
        ORDER_HEADER,
        "O1,C1,2024-03-01 10:00:00,completed,10,extra",
        "(row)",
        "columns",
        "record has 6 columns, expected 5",
    ),
    ("products", "product_id,name,price\n", "P1,Shirt,-3.5", "price", "range", "price: must not be negative, got -3.5"),
    (
        "products",
        "product_id,name,price\n",
        "P1,Shirt,5000000",
        "price",
        "range",
        "price: must be at most 1000000, got 5000000.0",
    ),
    ("products", "product_id,name,price\n", "P1,Shirt,nan", "price", "type", "price: expected a number, got 'nan'"),
    ("products", "product_id,name,stock\n", "P1,Shirt,2.5", "stock", "type", "stock: expected an integer, got '2.5'"),
    (
        "products",
        "product_id,name,description\n",
        "P1,Shirt," + "x" * 20_001,
        "description",
        "length",
        "description: text is 20001 characters, longer than the limit 20000",
    ),
    (
        "products",
        "product_id,name,hidden\n",
        "P1,Shirt,maybe",
        "hidden",
        "type",
        "hidden: expected true or false, got 'maybe'",
    ),
    (
        "products",
        "product_id,name\n",
        "P" + "1" * 70 + ",Shirt",
        "product_id",
        "length",
        "product_id: text is 71 characters, longer than the limit 64",
    ),
    (
        "order_lines",
        "order_id,line_no,product_id,quantity,unit_price\n",
        "G1,1,P9,0,1.00",
        "quantity",
        "range",
        "quantity: must not be zero",
    ),
    (
        "customers",
        "customer_id,email\n",
        "C1,not-an-address",
        "email",
        "type",
        "email: expected an e-mail address like name@example.com, got 'not-an-address'",
    ),
    (
        "customers",
        "customer_id,phone\n",
        "C1,12",
        "phone",
        "type",
        "phone: expected a phone number with 6 to 15 digits, got '12'",
    ),
    ("reviews", "review_id,product_id,rating\n", "R1,P1,7", "rating", "range", "rating: must be at most 5, got 7"),
    (
        "consents",
        "customer_id,channel,status,updated_at\n",
        "C1,fax,granted,2024-01-01",
        "channel",
        "enum",
        "channel: expected one of email, sms, push, webhook, got 'fax'",
    ),
    (
        "calendar",
        "day,kind,name\n",
        "2024-13-01,holiday,New year",
        "day",
        "timestamp",
        "day: expected a date such as 2024-05-31, got '2024-13-01'",
    ),
]


@pytest.mark.parametrize(
    ("entity", "header", "record", "field", "code", "reason"),
    ROW_CASES,
    ids=[f"{c[0]}-{c[4]}-{i}" for i, c in enumerate(ROW_CASES)],
)
def test_bad_record_is_quarantined_with_its_reason(
    store, tmp_path: Path, entity: str, header: str, record: str, field: str, code: str, reason: str
) -> None:
    good = {"orders": GOOD_ORDER, "products": None, "order_lines": None}.get(entity)
    body = header + (good or "") + record + "\n"
    if entity == "order_lines":  # its references need an order and a product
        load_file(store, "orders", _write(tmp_path, "o.csv", ORDER_HEADER + GOOD_ORDER))
        load_file(store, "products", _write(tmp_path, "p.csv", "product_id,name\nP9,Thing\n"))
    summary = load_file(store, entity, _write(tmp_path, f"{entity}.csv", body))
    rejects = store.read_sql(
        "SELECT line, field, code, reason FROM rejected_rows WHERE ingest_id = :i", {"i": summary.ingest_id}
    )
    assert rejects[["field", "code", "reason"]].to_dict("records") == [{"field": field, "code": code, "reason": reason}]
    assert int(rejects["line"].iloc[0]) == (3 if good else 2)
    assert summary.rejected == 1
    if good:
        assert summary.tables[entity].loaded == 1  # the good record of the same file still loads


def test_invalid_utf8_is_quarantined(store, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes((ORDER_HEADER + GOOD_ORDER).encode() + b"O2,C\xff1,2024-03-01 10:00:00,completed,1\n")
    summary = load_file(store, "orders", path)
    rejects = store.read_sql("SELECT line, code, reason FROM rejected_rows").to_dict("records")
    assert rejects == [
        {
            "line": 3,
            "code": "encoding",
            "reason": "invalid UTF-8 bytes in the record: re-save the file as UTF-8 or pass --encoding latin-1",
        }
    ]
    assert summary.tables["orders"].loaded == 1


def test_latin1_file_loads_with_encoding_option(store, tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_bytes("product_id,name\nP1,Crème brûlée set\n".encode("latin-1"))
    load_file(store, "products", path, encoding="latin-1")
    assert store.scalar("SELECT name FROM products") == "Crème brûlée set"


def test_malformed_json_lines_are_quarantined(store, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "events.jsonl",
        '{"event_id": "E1", "event_type": "view", "ts": "2024-03-01T10:00:00Z"}\n'
        '{"event_id": "E2", "event_type": "view", "ts": \n'
        "\n"
        '["not", "an", "object"]\n',
    )
    summary = load_file(store, "events", path)
    rejects = store.read_sql("SELECT line, code, reason FROM rejected_rows ORDER BY line").to_dict("records")
    assert rejects == [
        {"line": 2, "code": "json", "reason": "malformed JSON: Expecting value at column 48"},
        {"line": 4, "code": "json", "reason": "expected a JSON object, got list"},
    ]
    assert summary.tables["events"].loaded == 1
    assert str(store.scalar("SELECT ts FROM events")) == "2024-03-01 10:00:00"


def test_timezone_offsets_are_converted_to_utc(store, tmp_path: Path) -> None:
    load_file(
        store, "orders", _write(tmp_path, "o.csv", ORDER_HEADER + "O1,C1,2024-03-01T12:00:00+02:00,completed,1\n")
    )
    assert str(store.scalar("SELECT ordered_at FROM orders")) == "2024-03-01 10:00:00"


FILE_CASES = [
    ("empty.csv", b"", InputError, "File 'empty.csv' is empty: expected a header line and at least one record"),
    (
        "orders.csv",
        b"id,when\n1,2024-01-01\n",
        InputError,
        "Header mismatch: 'orders.csv' lacks the required column(s) order_id, ordered_at for orders; its columns are: id, when",
    ),
    ("orders.xlsx", b"PK\x03\x04", InputError, "Cannot tell the format of 'orders.xlsx' from its name"),
]


@pytest.mark.parametrize(("name", "content", "error", "message"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_file_level_mistakes_raise_and_change_nothing(
    store, tmp_path: Path, name: str, content: bytes, error: type, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error) as info:
        load_file(store, "orders", path)
    assert info.value.message == message
    assert info.value.hint
    assert sum(store.counts().values()) == 0


def test_missing_file_and_unknown_kind(store, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_file(store, "orders", tmp_path / "nope.csv")
    with pytest.raises(InputError, match="Unknown kind of data 'ordres'"):
        load_file(store, "ordres", _write(tmp_path, "x.csv", ORDER_HEADER))


def test_mapping_renames_columns_and_reports_bad_maps(store, tmp_path: Path) -> None:
    path = _write(tmp_path, "export.csv", "InvoiceNo,Client,When\nA1,C1,2024-03-01 10:00:00\n")
    summary = load_file(
        store, "orders", path, mapping={"InvoiceNo": "order_id", "Client": "customer_id", "When": "ordered_at"}
    )
    assert summary.tables["orders"].loaded == 1
    with pytest.raises(InputError, match="has no column 'Invoice'"):
        load_file(store, "orders", path, mapping={"Invoice": "order_id"})
    with pytest.raises(InputError, match="'order_no' is not a field of orders"):
        load_file(store, "orders", path, mapping={"InvoiceNo": "order_no"})


def test_gzip_csv_and_header_case_are_accepted(store, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("Order_ID,Customer ID,OrderedAt\nO1,C1,2024-03-01 10:00:00\n")
    summary = load_file(store, "orders", path)
    assert summary.tables["orders"].loaded == 1


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
