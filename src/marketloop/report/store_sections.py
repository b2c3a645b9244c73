"""Report sections about the store's data: headline KPIs, revenue per week, orders by category and
customers by observed lifecycle stage."""

from __future__ import annotations

import plotly.graph_objects as go

from marketloop.report.html import Section
from marketloop.store import overview
from marketloop.store.engine import Store


def store_overview(store: Store, currency: str = "") -> Section:
    k = overview.kpis(store)
    money = (currency + " ") if currency else ""
    weekly = overview.weekly_sales(store)
    categories = overview.orders_by_category(store)
    lifecycle = overview.lifecycle_counts(store)
    charts = []
    if len(weekly):
        charts.append(
            go.Figure(
                go.Scatter(x=weekly["week"], y=weekly["revenue"], mode="lines", line=dict(width=2)),
                layout=dict(title="Revenue per week", yaxis_title="revenue"),
            )
        )
    if len(categories):
        charts.append(
            go.Figure(
                go.Bar(x=categories["category"], y=categories["orders"]),
                layout=dict(title="Orders by category", yaxis_title="orders"),
            )
        )
    charts.append(
        go.Figure(
            go.Bar(x=lifecycle["stage"], y=lifecycle["customers"]),
            layout=dict(
                title="Customers by order recency (new, active, lapsing, lapsed, prospect)", yaxis_title="customers"
            ),
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
        notes=[f"Lifecycle stages are observed from order history: {rules}."],
    )


def ingestion_section(store: Store) -> Section:
    runs = store.read_sql(
        "SELECT kind, count(*) AS files, sum(rows_read) AS records_read, sum(rows_loaded) AS loaded, "
        "sum(rows_skipped) AS already_present, sum(rows_rejected) AS rejected FROM ingest_runs GROUP BY kind ORDER BY kind"
    )
    counts = store.counts()
    return Section(
        title="Data loaded",
        intro="Every file is validated; rejected records are kept with their line, field and reason in rejected_rows.",
        tables=[("Rows per table", _counts_frame(counts)), ("Loads", runs)]
        if len(runs)
        else [("Rows per table", _counts_frame(counts))],
    )


def _counts_frame(counts: dict[str, int]):  # noqa: ANN202
    import pandas as pd

    return pd.DataFrame(sorted(counts.items()), columns=["table", "rows"])
