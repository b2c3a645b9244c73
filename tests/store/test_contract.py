"""One contract suite for every store backend: DuckDB, PostgreSQL and MySQL/MariaDB.

The same files are loaded into each backend and must give the same tables, the same counts, the same
rejects, the same idempotency and the same erasure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from marketloop.store import open_store, schema
from marketloop.store.ingest import load_file
from marketloop.store.migrations import LATEST_VERSION, current_version
from marketloop.store.privacy import forget

pytestmark = pytest.mark.backend

PRODUCTS = """product_id,name,category,brand,price,cost,stock
P1,Linen shirt,shirts,Acme,39.90,15.00,12
P2,Wool scarf,accessories,Borea,24.50,9.10,0
P3,Canvas tote,bags,Acme,12.00,4.00,40
"""

ORDERS = """order_id,customer_id,ordered_at,status,total
O1,C1,2024-03-01 10:00:00,completed,64.40
O2,C2,2024-03-02 11:30:00,completed,12.00
O3,,2024-03-03 09:15:00,completed,39.90
"""

LINES = """order_id,line_no,product_id,quantity,unit_price
O1,1,P1,1,39.90
O1,2,P2,1,24.50
O2,1,P3,1,12.00
O3,1,P1,1,39.90
O3,2,NOPE,1,1.00
"""

CUSTOMERS = """customer_id,email,phone,first_name,country,time_zone
C1,Ann@Example.com,+44 20 7946 0000,Ann,GB,Europe/London
C2,bob@example.com,,Bob,DE,Europe/Berlin
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_sample(store, tmp_path: Path) -> None:
    load_file(store, "products", write(tmp_path, "products.csv", PRODUCTS))
    load_file(store, "customers", write(tmp_path, "customers.csv", CUSTOMERS))
    load_file(store, "orders", write(tmp_path, "orders.csv", ORDERS))
    load_file(store, "order_lines", write(tmp_path, "lines.csv", LINES))


def test_migrations_create_the_schema_once(any_store_url: str) -> None:
    with open_store(any_store_url) as store:
        assert current_version(store) == LATEST_VERSION
        assert set(store.counts()) >= {"customers", "products", "events", "orders", "order_lines", "rejected_rows"}
    with open_store(any_store_url) as store:  # re-opening applies nothing new
        assert store.scalar("SELECT count(*) FROM schema_migrations") == len(
            {m.version for m in __import__("marketloop.store.migrations", fromlist=["MIGRATIONS"]).MIGRATIONS}
        )


def test_migration_8_adds_the_profile_activity_columns_to_an_older_store(any_store_url: str) -> None:
    """A store at version 7 (profiles without activity columns) gains them, nullable, on the next open."""
    added = ("last_active_at", "days_inactive", "activity_gap_days", "lifecycle_stage")
    with open_store(any_store_url) as store, store.begin() as conn:
        for name in added:
            conn.execute(sa.text(f"ALTER TABLE customer_profiles DROP COLUMN {name}"))
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE version = 8"))
    with open_store(any_store_url) as store:
        assert current_version(store) == LATEST_VERSION
        with store.begin() as conn:
            present = {c.lower() for c in conn.execute(sa.text("SELECT * FROM customer_profiles WHERE 1 = 0")).keys()}
            assert set(added) <= present
            conn.execute(
                schema.customer_profiles.insert().values(
                    customer_id="C1",
                    as_of=sa.func.current_date(),
                    orders=1,
                    returns=0,
                    revenue=1.0,
                    high_value=False,
                    computed_at=sa.func.current_timestamp(),
                    days_inactive=3,
                    lifecycle_stage="active",
                )
            )
        assert store.scalar("SELECT lifecycle_stage FROM customer_profiles WHERE customer_id = 'C1'") == "active"


def test_load_counts_rejects_and_references(any_store_url: str, tmp_path: Path) -> None:
    with open_store(any_store_url) as store:
        load_sample(store, tmp_path)
        counts = store.counts()
        assert counts["products"] == 3
        assert counts["customers"] == 2
        assert counts["orders"] == 3
        assert counts["order_lines"] == 4  # the NOPE line is rejected
        rejects = store.read_sql("SELECT entity, line, field, code, reason FROM rejected_rows")
        assert rejects.to_dict("records") == [
            {
                "entity": "order_lines",
                "line": 6,
                "field": "product_id",
                "code": "reference",
                "reason": "product_id: unknown product 'NOPE' (not in the store nor in this load); load the products first",
            }
        ]
        guest = store.scalar("SELECT count(*) FROM orders WHERE customer_id IS NULL")
        assert guest == 1


def test_reloading_changes_nothing_and_new_rows_append(any_store_url: str, tmp_path: Path) -> None:
    with open_store(any_store_url) as store:
        load_sample(store, tmp_path)
        before = store.counts()
        snapshot = store.read_sql("SELECT * FROM order_lines ORDER BY order_id, line_no")
        again = load_file(store, "order_lines", tmp_path / "lines.csv")
        assert again.already_loaded
        # The same rows in a different file (e.g. re-exported) are recognised by their keys.
        copy = write(tmp_path, "lines-copy.csv", LINES)
        copy.write_text(LINES + "O2,2,P1,2,39.90\n")
        summary = load_file(store, "order_lines", copy)
        assert summary.tables["order_lines"].loaded == 1
        assert summary.tables["order_lines"].skipped == 4
        after = store.counts()
        assert after["order_lines"] == before["order_lines"] + 1
        assert {k: v for k, v in after.items() if k not in ("order_lines", "ingest_runs", "rejected_rows")} == {
            k: v for k, v in before.items() if k not in ("order_lines", "ingest_runs", "rejected_rows")
        }
        kept = store.read_sql(
            "SELECT * FROM order_lines WHERE NOT (order_id = 'O2' AND line_no = 2) ORDER BY order_id, line_no"
        )
        assert kept.equals(snapshot)


def test_dimension_rows_are_updated_when_they_change(any_store_url: str, tmp_path: Path) -> None:
    with open_store(any_store_url) as store:
        load_file(store, "products", write(tmp_path, "products.csv", PRODUCTS))
        changed = PRODUCTS.replace(
            "P2,Wool scarf,accessories,Borea,24.50,9.10,0", "P2,Wool scarf,accessories,Borea,19.90,9.10,5"
        )
        summary = load_file(store, "products", write(tmp_path, "products2.csv", changed))
        assert (summary.tables["products"].updated, summary.tables["products"].skipped) == (1, 2)
        row = store.read_sql("SELECT price, stock FROM products WHERE product_id = 'P2'").iloc[0]
        assert (row["price"], row["stock"]) == (19.90, 5)
        # A partial file (no stock column) updates only the columns it has.
        summary = load_file(
            store, "products", write(tmp_path, "p3.csv", "product_id,name,price\nP2,Wool scarf,21.00\n")
        )
        row = store.read_sql("SELECT price, stock, is_product FROM products WHERE product_id = 'P2'").iloc[0]
        assert (row["price"], row["stock"], bool(row["is_product"])) == (21.0, 5, True)


def test_contact_details_are_pseudonymised(any_store_url: str, tmp_path: Path) -> None:
    with open_store(any_store_url) as store:
        load_file(store, "customers", write(tmp_path, "customers.csv", CUSTOMERS))
        rows = store.read_sql("SELECT customer_id, email_hash, phone_hash FROM customers ORDER BY customer_id")
        everything = " ".join(str(v) for v in rows.to_numpy().ravel())
        assert "example.com" not in everything and "7946" not in everything
        assert len(rows.loc[0, "email_hash"]) == 64
        # Same address in another case or with spaces gives the same pseudonym (matching still works).
        load_file(store, "customers", write(tmp_path, "c2.csv", "customer_id,email\nC9, ann@example.COM \n"))
        hashes = store.read_sql("SELECT email_hash FROM customers WHERE customer_id IN ('C1', 'C9')")["email_hash"]
        assert hashes.nunique() == 1


def test_forget_erases_a_customer_everywhere(any_store_url: str, tmp_path: Path) -> None:
    with open_store(any_store_url) as store:
        load_sample(store, tmp_path)
        load_file(
            store,
            "events",
            write(
                tmp_path,
                "events.csv",
                "event_id,customer_id,event_type,product_id,ts\nE1,C1,view,P1,2024-03-01 09:00:00\n"
                "E2,C2,view,P2,2024-03-01 09:05:00\n",
            ),
        )
        load_file(
            store,
            "consents",
            write(
                tmp_path,
                "consents.csv",
                "customer_id,channel,status,updated_at\nC1,email,granted,2024-01-01 00:00:00\n",
            ),
        )
        load_file(
            store,
            "reviews",
            write(tmp_path, "reviews.csv", "review_id,product_id,customer_id,rating,body\nR1,P1,C1,5,Lovely\n"),
        )
        result = forget(store, "C1", key=b"k", actor="test")
        assert result.deleted["customers"] == 1 and result.deleted["order_lines"] == 2
        for name, table in schema.metadata.tables.items():
            if name in ("audit_log", "schema_migrations"):
                continue
            frame = store.read_sql(sa.select(table))
            text = frame.astype(str).to_numpy().ravel().tolist()
            assert "C1" not in text, f"C1 still in {name}"
            if name == "order_lines":
                assert "O1" not in frame["order_id"].tolist()
        assert store.count("customers") == 1 and store.count("events") == 1
        audit = store.read_sql("SELECT action, target FROM audit_log")
        assert audit["action"].tolist() == ["privacy.forget"] and "C1" not in audit["target"].iloc[0]
