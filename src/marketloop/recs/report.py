"""Recommendation sections for reports and the demo: for-you lists and similar items, with names."""

from __future__ import annotations

from typing import Any

import pandas as pd

from marketloop.report import Section


def demo_step(ctx: Any, customers: int = 3, products: int = 3) -> None:
    from marketloop.recs.service import load_service
    from marketloop.recs.training import train_from_store

    models_dir = ctx.out_dir / "models"
    versions = train_from_store(ctx.store, models_dir, model="hybrid")
    service = load_service(ctx.store, models_dir)
    buyers = ctx.store.read_sql(
        "SELECT customer_id, count(*) AS n FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id "
        "ORDER BY n DESC, customer_id LIMIT :k",
        {"k": customers},
    )
    names = ctx.store.read_sql("SELECT product_id, name FROM products").set_index("product_id")["name"]
    tables: list[tuple[str, pd.DataFrame]] = []
    for customer_id in buyers["customer_id"]:
        recs = service.for_you(customer_id, n=5)
        tables.append((f"For customer {customer_id}", _named(recs, names)))
    top = ctx.store.read_sql(
        "SELECT l.product_id, count(*) AS n FROM order_lines l GROUP BY l.product_id ORDER BY n DESC, l.product_id LIMIT :k",
        {"k": products},
    )
    for product_id in top["product_id"]:
        tables.append(
            (f"Similar to {names.get(product_id, product_id)}", _named(service.similar(product_id, n=5), names))
        )
    ctx.report.add(
        Section(
            title="Recommendations",
            intro="A hybrid recommender (candidates from ALS, EASE, item-kNN, buy-again and trending, re-ranked by a "
            "LightGBM LambdaRank model) trained on the store, with business rules applied after scoring.",
            figures={"models trained": ", ".join(sorted({v.name for v in versions}))},
            tables=tables,
        )
    )
    ctx.summary["recs"] = {"models": sorted({v.name for v in versions})}


def _named(frame: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    out = frame.copy()
    if "product_id" in out.columns and "name" not in out.columns:
        out.insert(1, "name", out["product_id"].map(names))
    return out
