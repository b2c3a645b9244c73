"""Sales overview figures on a tiny store with a known answer, on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketloop.report import Report
from marketloop.report.store_sections import ingestion_section, store_overview
from marketloop.store import open_store, overview
from marketloop.store.ingest import load_file

pytestmark = pytest.mark.backend

ORDERS = """order_id,customer_id,ordered_at,status,is_return,total
O1,A,2024-01-01 10:00:00,completed,false,100
O2,A,2024-03-20 10:00:00,completed,false,50
O3,B,2024-03-25 10:00:00,completed,false,30
O4,C,2023-09-01 10:00:00,completed,false,20
R1,A,2024-03-21 10:00:00,returned,true,-10
O5,,2024-03-30 10:00:00,completed,false,40
"""
LINES = """order_id,line_no,product_id,quantity,unit_price
O1,1,P1,2,50
O2,1,P2,1,50
O3,1,P2,1,30
O4,1,P1,1,20
O5,1,P3,1,40
"""
PRODUCTS = """product_id,name,category
P1,Shirt,tops
P2,Skirt,bottoms
P3,Hat,
"""
CUSTOMERS = "customer_id\nA\nB\nC\nD\n"


def test_kpis_categories_and_lifecycle(any_store_url: str, tmp_path: Path) -> None:
    for name, text in (("products", PRODUCTS), ("customers", CUSTOMERS), ("orders", ORDERS), ("order_lines", LINES)):
        (tmp_path / f"{name}.csv").write_text(text)
    with open_store(any_store_url) as store:
        for name in ("products", "customers", "orders", "order_lines"):
            load_file(store, name, tmp_path / f"{name}.csv")
        k = overview.kpis(store)
        assert (k.revenue, k.orders, k.returns_value) == (240.0, 5, 10.0)
        assert k.average_order_value == 48.0
        assert k.customers_with_orders == 3  # guest order O5 has no customer
        assert k.repeat_rate == pytest.approx(1 / 3, abs=1e-4)
        assert k.active_customers == 2  # A and B ordered within 90 days of 2024-03-30
        categories = overview.orders_by_category(store).set_index("category")
        assert categories.loc["tops", "revenue"] == 120.0 and categories.loc["bottoms", "orders"] == 2
        assert categories.loc["(uncategorised)", "revenue"] == 40.0
        stages = dict(overview.lifecycle_counts(store).values.tolist())
        assert stages == {"new": 1, "active": 1, "lapsing": 0, "lapsed": 1, "prospect": 1}
        weekly = overview.weekly_sales(store)
        assert weekly["revenue"].sum() == 240.0
        report = Report("t").add(store_overview(store), ingestion_section(store))
        html = report.write(tmp_path / "r.html").read_text()
        assert "Revenue per week" in html and "Customers by order recency" in html and '<figure class="chart"' in html
        assert "api_keys" not in html and "Rows in the store" in html  # business tables only


def test_monthly_series_fills_gaps_and_splits_new_from_returning(any_store_url: str, tmp_path: Path) -> None:
    for name, text in (("products", PRODUCTS), ("customers", CUSTOMERS), ("orders", ORDERS), ("order_lines", LINES)):
        (tmp_path / f"{name}.csv").write_text(text)
    with open_store(any_store_url) as store:
        assert overview.monthly_series(store).empty  # no orders yet
        for name in ("products", "customers", "orders", "order_lines"):
            load_file(store, name, tmp_path / f"{name}.csv")
        series = overview.monthly_series(store)
        assert list(overview.monthly_series(store, months=2)["month"]) == ["2024-02", "2024-03"]
    assert list(series["month"]) == ["2023-09", "2023-10", "2023-11", "2023-12", "2024-01", "2024-02", "2024-03"]
    by = series.set_index("month")
    assert by.loc["2024-03"].to_dict() == {  # O2 (A, returning), O3 (B, new), O5 (guest); the return R1 is left out
        "revenue": 120.0,
        "orders": 3,
        "aov": 40.0,
        "active_customers": 2,
        "new_customers": 1,
        "returning_customers": 1,
        "repeat_rate": 0.5,
    }
    assert by.loc["2023-09", "new_customers"] == 1 and by.loc["2024-01", "revenue"] == 100.0
    assert by.loc["2023-11"].to_dict() == {
        "revenue": 0.0,
        "orders": 0,
        "aov": 0.0,
        "active_customers": 0,
        "new_customers": 0,
        "returning_customers": 0,
        "repeat_rate": 0.0,
    }
    assert series["revenue"].sum() == 240.0 and series["new_customers"].sum() == 3
