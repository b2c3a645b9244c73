"""Reading transactions and refusing data no model can learn from."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from marketloop.customers.transactions import (
    GenericColumns,
    check_transactions,
    read_transactions,
    rfm_summary,
)
from marketloop.errors import InputError, NotFoundError

from .conftest import tx_frame

TODAY = dt.date(2024, 7, 1)


def test_cdnow_sample_and_master_layouts(tmp_path):
    sample = tmp_path / "sample.txt"
    sample.write_text(
        " 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n 00018 0002 19970102  1   14.96\n"
    )
    master = tmp_path / "master.txt"
    master.write_text(
        " customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n"
    )
    s = read_transactions(sample, "cdnow")
    # the sample id, leading zeros dropped; rows come back in time order
    assert s["customer_id"].tolist() == ["1", "2", "1"]
    assert s["amount"].tolist() == [29.33, 14.96, 29.73]
    m = read_transactions(master, "cdnow")
    assert m["customer_id"].tolist() == ["1", "2"]
    assert m["ts"].dt.date.tolist() == [dt.date(1997, 1, 1), dt.date(1997, 1, 12)]


def test_uci_invoices_returns_and_guests(tmp_path):
    path = tmp_path / "uci.csv"
    pd.DataFrame(
        {
            "InvoiceNo": ["1", "1", "C2", "3"],
            "StockCode": ["a", "b", "a", "a"],
            "Description": ["x", "y", "x", "x"],
            "Quantity": [2, 1, -1, 5],
            "InvoiceDate": ["2011-01-01 10:00:00", "2011-01-01 10:00:00", "2011-01-05 09:00:00", "2011-02-01 08:00:00"],
            "UnitPrice": [1.5, 2.0, 1.5, 1.0],
            "CustomerID": ["17850.0", "17850.0", "17850.0", ""],
            "Country": ["UK"] * 4,
        }
    ).to_csv(path, index=False)
    tx = read_transactions(path, "uci")
    assert len(tx) == 3
    first = tx.iloc[0]
    assert (first["customer_id"], first["amount"], first["is_return"]) == ("17850", 5.0, False)
    assert bool(tx.iloc[1]["is_return"]) and tx.iloc[1]["amount"] == -1.5
    assert pd.isna(tx.iloc[2]["customer_id"])  # guest


def test_generic_columns_and_negative_totals_are_returns(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("who,when,paid\na,2024-01-01,10\na,2024-01-05,-4\nb,2024-02-01,7\n")
    tx = read_transactions(path, "generic", GenericColumns("who", "when", "paid"))
    assert tx["is_return"].tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("content", "kwargs", "error", "match"),
    [
        ("customer_id,date,amount\na,2024-01-01,1\n", {"fmt": "excel"}, InputError, "format 'excel' is not known"),
        ("id,date,amount\na,2024-01-01,1\n", {}, InputError, "no customer column 'customer_id'"),
        ("customer_id,date,amount\na,2024-13-45,1\n", {}, InputError, "column 'date' .* 1 unreadable values"),
        ("customer_id,date,amount\na,2024-01-01,ten\n", {}, InputError, "column 'amount' .* unreadable"),
    ],
)
def test_bad_files(tmp_path, content, kwargs, error, match):
    path = tmp_path / "tx.csv"
    path.write_text(content)
    with pytest.raises(error, match=match):
        read_transactions(path, **kwargs)


def test_missing_file(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        read_transactions(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([], "empty"),
        ([("a", "2024-01-01", 10.0), ("a", "2024-03-01", 5.0)], "single customer"),
        ([("a", "2024-01-01", 10.0), ("b", "2024-01-01", 5.0)], "all 2 purchases are on one day"),
        ([("a", "2024-01-01", 10.0), ("b", "2024-01-10", 5.0)], "span only 9 days"),
        ([("a", "2024-01-01", 10.0), ("b", "2030-01-01", 5.0)], "1 orders are dated in the future"),
        ([("a", "2024-01-01", -10.0), ("b", "2024-03-01", -5.0)], "no purchases by known customers"),
        ([(None, "2024-01-01", 10.0), (None, "2024-03-01", 5.0)], "no purchases by known customers"),
    ],
)
def test_check_transactions_refuses(rows, match):
    tx = tx_frame(rows) if rows else tx_frame([("a", "2024-01-01", 1.0)]).iloc[:0]
    with pytest.raises(InputError, match=match):
        check_transactions(tx, today=TODAY)


def test_report_counts_guests_and_returns():
    tx = tx_frame(
        [("a", "2024-01-01", 10.0), ("a", "2024-02-01", -3.0), ("b", "2024-03-01", 5.0), (None, "2024-03-02", 8.0)]
    )
    report = check_transactions(tx, today=TODAY)
    assert (report.customers, report.purchases, report.returns, report.guest_orders, report.guest_revenue) == (
        2,
        2,
        1,
        1,
        8.0,
    )


def test_rfm_summary_known_answer():
    # a: purchases on day 0, day 7 (two orders merged) and day 14; as_of is day 28.
    tx = tx_frame(
        [
            ("a", "2024-01-01", 10.0),
            ("a", "2024-01-08", 4.0),
            ("a", "2024-01-08", 6.0),
            ("a", "2024-01-15", 20.0),
            ("b", "2024-01-22", 5.0),
            ("b", "2024-02-20", 50.0),
        ]
    )
    s = rfm_summary(tx, dt.date(2024, 1, 29)).set_index("customer_id")
    assert s.loc["a"].tolist() == [2.0, 2.0, 4.0, 15.0]  # frequency, recency, T (weeks), mean repeat spend
    assert s.loc["b"].tolist() == [0.0, 0.0, 1.0, 0.0]  # the later purchase is after as_of
