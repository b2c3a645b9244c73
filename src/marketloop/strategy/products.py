"""Products to feature in each recipient's message.

A stand-in until the recommender (issue 4) is merged: swap :func:`featured_products` for its "for
you" list. Here: the best sellers of the last 90 days (visible, in stock) in the category each
customer viewed or bought most, falling back to the store's best sellers.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from marketloop.store import schema
from marketloop.strategy.features import read_frame, store_now

if TYPE_CHECKING:
    from marketloop.store.engine import Store


def featured_products(
    store: Store,
    customer_ids: list[str],
    n: int = 3,
    as_of: dt.datetime | None = None,
    window_days: int | None = None,
    only: list[str] | None = None,
) -> dict[str, list[str]]:
    """``window_days``: also leave out products likely to sell out within the window (the forecast's
    stock cover, :func:`marketloop.forecast.inventory.sellout_risk_products`); ``only``: feature only
    these products (a clear-stock campaign's overstocked products)."""
    as_of = as_of or store_now(store)
    e, p, o, lines = schema.events, schema.products, schema.orders, schema.order_lines
    since = as_of - dt.timedelta(days=90)
    sellers = read_frame(
        store,
        sa.select(p.c.product_id, p.c.category, sa.func.sum(lines.c.quantity).label("units"))
        .select_from(lines.join(o, o.c.order_id == lines.c.order_id).join(p, p.c.product_id == lines.c.product_id))
        .where(
            o.c.ordered_at >= since,
            o.c.ordered_at < as_of,
            o.c.is_return.is_(False),
            p.c.hidden.is_(False),
            sa.or_(p.c.stock.is_(None), p.c.stock > 0),
        )
        .group_by(p.c.product_id, p.c.category),
    )
    if window_days is not None:
        from marketloop.forecast.inventory import sellout_risk_products

        sellers = sellers[~sellers["product_id"].astype(str).isin(sellout_risk_products(store, window_days))]
    if only is not None:
        sellers = sellers[sellers["product_id"].astype(str).isin(set(only))]
    if sellers.empty:
        return {c: [] for c in customer_ids}
    sellers = sellers.sort_values(["units", "product_id"], ascending=[False, True])
    overall = sellers["product_id"].head(n).tolist()
    by_category = {cat: part["product_id"].head(n).tolist() for cat, part in sellers.groupby("category")}
    interest = read_frame(
        store,
        sa.select(e.c.customer_id, p.c.category, sa.func.count().label("n"))
        .select_from(e.join(p, p.c.product_id == e.c.product_id))
        .where(e.c.ts < as_of, e.c.customer_id.is_not(None), e.c.event_type.in_(("view", "add_to_cart", "purchase")))
        .group_by(e.c.customer_id, p.c.category),
    )
    top = {}
    if len(interest):
        interest = interest.sort_values(["customer_id", "n", "category"], ascending=[True, False, True])
        top = interest.drop_duplicates("customer_id").set_index("customer_id")["category"].to_dict()
    wanted = set(map(str, customer_ids))
    return {c: by_category.get(top.get(c), overall) if c in wanted else overall for c in map(str, customer_ids)}


def products_json(
    store,  # noqa: ANN001
    customer_ids: pd.Series,
    n: int = 3,
    window_days: int | None = None,
    only: list[str] | None = None,
) -> list[str]:
    import json

    featured = featured_products(store, customer_ids.astype(str).tolist(), n=n, window_days=window_days, only=only)
    return [json.dumps(featured.get(c, [])) for c in customer_ids.astype(str)]
