"""Report sections about the store's data: headline KPIs, revenue per week, orders by category, customers
by observed lifecycle stage, and what was loaded (the store's business data only: no internal tables such as
API keys, locks or the LLM call log)."""

from __future__ import annotations

import pandas as pd

from marketloop.report.charts import Chart, Series
from marketloop.report.html import Section
from marketloop.store import overview
from marketloop.store.engine import Store

#: the tables a report shows in "Data loaded": what a store's owner loads (the ingestible entities) and
#: what the loop adds to it, with readable names; service and bookkeeping tables are left out
BUSINESS_TABLES = {
    "customers": "Customers",
    "products": "Products",
    "orders": "Orders",
    "order_lines": "Order lines",
    "events": "Behaviour events",
    "reviews": "Reviews",
    "consents": "Consents",
    "calendar": "Calendar days",
    "customer_profiles": "Customer profiles",
    "campaigns": "Campaigns",
    "sends": "Messages (sends)",
    "send_outcomes": "Message outcomes",
    "rejected_rows": "Rejected records",
}


def store_overview(store: Store, currency: str = "") -> Section:
    k = overview.kpis(store)
    money = (currency + " ") if currency else ""
    weekly = overview.weekly_sales(store)
    categories = overview.orders_by_category(store)
    lifecycle = overview.lifecycle_counts(store)
    charts = []
    if len(weekly):
        charts.append(
            Chart(
                "Revenue per week",
                "line",
                [f"{pd.Timestamp(w):%Y-%m-%d}" for w in weekly["week"]],
                [Series("revenue", weekly["revenue"].astype(float).tolist())],
                x_title="week starting",
                y_title="revenue",
                value_format="money",
                description=f"Completed sales per week, {len(weekly)} weeks.",
            )
        )
    if len(categories):
        charts.append(
            Chart(
                "Orders by category",
                "hbar",
                categories["category"].astype(str).tolist(),
                [Series("orders", categories["orders"].astype(int).tolist())],
                x_title="orders",
                label_title="category",
                value_format="int",
            )
        )
    charts.append(
        Chart(
            "Customers by order recency",
            "bar",
            lifecycle["stage"].astype(str).tolist(),
            [Series("customers", lifecycle["customers"].astype(int).tolist())],
            y_title="customers",
            label_title="stage",
            value_format="int",
            description="New, active, lapsing, lapsed (by days since the last order) and prospects (no order yet).",
        )
    )
    rules = "; ".join(f"{name}: {rule}" for name, rule in overview.LIFECYCLE_RULES)
    return Section(
        title="Store overview",
        intro=f"Completed sales up to {k.as_of:%Y-%m-%d}." if k.as_of else "No orders loaded yet.",
        figures={
            "Revenue": f"{money}{k.revenue:,.0f}",
            "Orders": f"{k.orders:,}",
            "Average order": f"{money}{k.average_order_value:,.2f}",
            "Buying customers": f"{k.customers_with_orders:,}",
            "Active (90 days)": f"{k.active_customers:,}",
            "Repeat rate": f"{k.repeat_rate:.1%}",
        },
        charts=charts,
        notes=[f"Stages by order recency: {rules}."],
    )


def ingestion_section(store: Store) -> Section:
    runs = store.read_sql(
        "SELECT kind, count(*) AS files, sum(rows_read) AS records_read, sum(rows_loaded) AS loaded, "
        "sum(rows_skipped) AS already_present, sum(rows_rejected) AS rejected FROM ingest_runs GROUP BY kind ORDER BY kind"
    )
    counts = store.counts()
    rows = pd.DataFrame(
        [(label, int(counts.get(name, 0))) for name, label in BUSINESS_TABLES.items() if counts.get(name, 0)],
        columns=["data", "rows"],
    )
    tables = [("Rows in the store", rows)]
    if len(runs):
        runs["kind"] = runs["kind"].map(lambda k: BUSINESS_TABLES.get(str(k), str(k).replace("_", " ")))
        tables.append(("Loads (each file validated; loading it again changes nothing)", runs))
    return Section(
        title="Data loaded",
        intro="Every file is validated; rejected records are kept with their line, field and reason.",
        tables=tables,
    )
