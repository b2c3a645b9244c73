"""Interest tags: category, brand and price-band affinities with recency decay.

Each purchase line and each behaviour event adds a weight to the product's category, brand and price
band, multiplied by ``0.5 ** (age_days / half_life_days)``. Weights: purchased unit 1 (a line counts
``log1p(quantity)`` units, so bulk orders do not swamp everything), add to cart 0.5, wishlist 0.4,
view 0.1. Each kind's affinities are normalised to shares per customer; the top ``top`` of each kind
become the customer's tags. Price bands are the catalogue's price quartiles: budget, mid, upper, premium.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.customers.frames import read_frame
from marketloop.store import schema

EVENT_WEIGHTS = {"add_to_cart": 0.5, "wishlist": 0.4, "view": 0.1}
PRICE_BANDS = ("budget", "mid", "upper", "premium")
KINDS = ("category", "brand", "price_band")


def _days_before(column: sa.ColumnElement, as_of: dt.date, dialect: str) -> sa.ColumnElement:
    """Whole days from ``column`` to ``as_of``; the one dialect-specific expression in this module."""
    day = sa.literal(as_of, sa.Date)
    if dialect == "postgresql":
        return sa.cast(day, sa.Date) - sa.cast(column, sa.Date)
    if dialect == "mysql":
        return sa.func.datediff(day, column)
    return sa.func.date_diff("day", sa.cast(column, sa.Date), day)


def _price_band_case(store) -> sa.ColumnElement | None:  # noqa: ANN001 - Store
    p = schema.products
    return price_band_case(read_frame(store, sa.select(p.c.price).where(p.c.price.isnot(None)))["price"])


def price_band_case(prices: pd.Series) -> sa.ColumnElement | None:
    """The price band of a product as SQL, from the catalogue's price quartiles (None under 4 prices)."""
    p = schema.products
    prices = prices.dropna().astype(float)
    if len(prices) < 4:
        return None
    edges = np.unique(np.quantile(prices, [0.25, 0.5, 0.75]))
    whens = [(p.c.price < float(edge), PRICE_BANDS[i]) for i, edge in enumerate(edges)]
    return sa.case(*whens, else_=PRICE_BANDS[len(edges)])


def interest_tags(store, as_of: dt.date, half_life_days: float = 90.0, top: int = 2) -> pd.Series:  # noqa: ANN001
    """JSON text per customer id: ``{"category": [{"value", "share"}...], "brand": [...], "price_band": [...]}``.

    The weighting, decay, shares and top-k ranking run in the database (portable SQL with window
    functions), so only each customer's top tags travel to Python.
    """
    query = interest_query(store.dialect, as_of, _price_band_case(store), half_life_days, top)
    return _to_json(read_frame(store, query))


def interest_query(
    dialect: str, as_of: dt.date, band: sa.ColumnElement | None, half_life_days: float = 90.0, top: int = 2
) -> sa.Select:
    """The portable query behind :func:`interest_tags`: customer_id, kind, value, share of each customer's
    top ``top`` tags per kind and their rank, ordered by customer, kind and rank (also run by the distributed
    engine)."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    o, lines, ev, p = schema.orders, schema.order_lines, schema.events, schema.products
    kinds = {"category": p.c.category, "brand": p.c.brand}
    if band is not None:
        kinds["price_band"] = band
    event_weight = sa.case(*[(ev.c.event_type == k, w) for k, w in EVENT_WEIGHTS.items()], else_=0.0)
    parts = []
    for kind, value in kinds.items():
        bought = (
            sa.select(
                o.c.customer_id.label("customer_id"),
                sa.literal(kind).label("kind"),
                sa.cast(value, sa.String(255)).label("value"),
                (
                    sa.func.ln(1.0 + lines.c.quantity)
                    * sa.func.power(0.5, _days_before(o.c.ordered_at, as_of, dialect) / half_life_days)
                ).label("w"),
            )
            .select_from(lines.join(o, lines.c.order_id == o.c.order_id).join(p, p.c.product_id == lines.c.product_id))
            .where(
                o.c.customer_id.isnot(None),
                o.c.is_return.is_(False),
                o.c.ordered_at < end,
                lines.c.quantity > 0,
                p.c.is_product.is_(True),
                value.isnot(None),
            )
        )
        viewed = (
            sa.select(
                ev.c.customer_id,
                sa.literal(kind),
                sa.cast(value, sa.String(255)),
                event_weight * sa.func.power(0.5, _days_before(ev.c.ts, as_of, dialect) / half_life_days),
            )
            .select_from(ev.join(p, p.c.product_id == ev.c.product_id))
            .where(
                ev.c.customer_id.isnot(None),
                ev.c.ts < end,
                ev.c.event_type.in_(list(EVENT_WEIGHTS)),
                p.c.is_product.is_(True),
                value.isnot(None),
            )
        )
        parts += [bought, viewed]
    signals = sa.union_all(*parts).subquery("signals")
    summed = (
        sa.select(signals.c.customer_id, signals.c.kind, signals.c.value, sa.func.sum(signals.c.w).label("w"))
        .group_by(signals.c.customer_id, signals.c.kind, signals.c.value)
        .subquery("summed")
    )
    ranked = sa.select(
        summed.c.customer_id,
        summed.c.kind,
        summed.c.value,
        (summed.c.w / sa.func.sum(summed.c.w).over(partition_by=[summed.c.customer_id, summed.c.kind])).label("share"),
        sa.func.row_number()
        .over(partition_by=[summed.c.customer_id, summed.c.kind], order_by=[summed.c.w.desc(), summed.c.value])
        .label("rank"),
    ).subquery("ranked")
    return (
        sa.select(ranked.c.customer_id, ranked.c.kind, ranked.c.value, ranked.c.share, ranked.c.rank)
        .where(ranked.c.rank <= top)
        .order_by(ranked.c.customer_id, ranked.c.kind, ranked.c.rank)
    )


def tags_json(tags: pd.DataFrame) -> pd.Series:
    """Customer id -> JSON text of the rows of :func:`interest_query` (ordered by customer, kind, rank)."""
    return _to_json(tags)


def _to_json(tags: pd.DataFrame) -> pd.Series:
    """Customer id -> JSON text. ``tags`` come ordered by customer, kind and rank, so one pass over
    plain arrays builds every document (values are JSON-encoded once per distinct value)."""
    if tags.empty:
        return pd.Series(dtype=object)
    customers = tags["customer_id"].to_numpy(dtype=object)
    kinds = tags["kind"].to_numpy(dtype=object)
    values = tags["value"].to_numpy(dtype=object)
    shares = np.char.mod("%.3f", tags["share"].to_numpy(dtype=float))
    encoded = {v: json.dumps(str(v)) for v in pd.unique(values)}
    ids, docs = [], []
    parts: list[str] = []
    items: list[str] = []
    current, kind = customers[0], kinds[0]
    for cid, k, value, share in zip(customers, kinds, values, shares, strict=True):
        if k != kind or cid != current:
            parts.append(f'"{kind}": [' + ", ".join(items) + "]")
            items, kind = [], k
        if cid != current:
            ids.append(str(current))
            docs.append("{" + ", ".join(parts) + "}")
            parts, current = [], cid
        items.append(f'{{"value": {encoded[value]}, "share": {share}}}')
    parts.append(f'"{kind}": [' + ", ".join(items) + "]")
    ids.append(str(current))
    docs.append("{" + ", ".join(parts) + "}")
    return pd.Series(docs, index=ids, dtype=object)
