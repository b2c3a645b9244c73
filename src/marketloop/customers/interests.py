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


def _signals(store, as_of: dt.date) -> pd.DataFrame:  # noqa: ANN001 - Store
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    o, lines, ev = schema.orders, schema.order_lines, schema.events
    bought = read_frame(
        store,
        sa.select(o.c.customer_id, o.c.ordered_at.label("ts"), lines.c.product_id, lines.c.quantity)
        .select_from(lines.join(o, lines.c.order_id == o.c.order_id))
        .where(o.c.customer_id.isnot(None), o.c.is_return.is_(False), o.c.ordered_at < end, lines.c.quantity > 0),
    )
    bought["weight"] = np.log1p(bought.pop("quantity").astype(float))
    events = read_frame(
        store,
        sa.select(ev.c.customer_id, ev.c.ts, ev.c.product_id, ev.c.event_type)
        .where(ev.c.customer_id.isnot(None), ev.c.product_id.isnot(None), ev.c.ts < end,
               ev.c.event_type.in_(list(EVENT_WEIGHTS))),
    )
    events["weight"] = events.pop("event_type").map(EVENT_WEIGHTS).astype(float)
    return pd.concat([bought, events], ignore_index=True)


def interest_tags(store, as_of: dt.date, half_life_days: float = 90.0, top: int = 2) -> pd.Series:  # noqa: ANN001
    """JSON text per customer id: ``{"category": [{"value", "share"}...], "brand": [...], "price_band": [...]}``."""
    signals = _signals(store, as_of)
    p = schema.products
    products = read_frame(store, sa.select(p.c.product_id, p.c.category, p.c.brand, p.c.price, p.c.is_product))
    return interests_from_frames(signals, products, as_of, half_life_days, top)


def interests_from_frames(signals: pd.DataFrame, products: pd.DataFrame, as_of: dt.date,
                          half_life_days: float = 90.0, top: int = 2) -> pd.Series:
    """The computation behind :func:`interest_tags`, on frames (customer_id, ts, product_id, weight)."""
    if signals.empty or products.empty:
        return pd.Series(dtype=object)
    products = products[products["is_product"].fillna(True).astype(bool)].copy()
    prices = products["price"].astype(float)
    if prices.notna().sum() >= 4:
        edges = np.unique(np.nanquantile(prices, [0.25, 0.5, 0.75]))
        band = np.searchsorted(edges, prices.fillna(np.nanmedian(prices)), side="right")
        products["price_band"] = np.asarray(PRICE_BANDS, dtype=object)[np.minimum(band, 3)]
        products.loc[prices.isna(), "price_band"] = None
    else:
        products["price_band"] = None
    age = (pd.Timestamp(as_of) - pd.to_datetime(signals["ts"])).dt.days.clip(lower=0).to_numpy()
    sig = signals.assign(w=signals["weight"].to_numpy() * np.power(0.5, age / half_life_days))
    sig = sig.merge(products[["product_id", *KINDS]], on="product_id", how="inner")
    parts = []
    for kind in KINDS:
        part = sig[sig[kind].notna()].groupby(["customer_id", kind], sort=False, observed=True)["w"].sum()
        if part.empty:
            continue
        part = part.rename("w").reset_index().rename(columns={kind: "value"})
        part["share"] = part["w"] / part.groupby("customer_id")["w"].transform("sum")
        part = part.sort_values(["customer_id", "share"], ascending=[True, False], kind="stable")
        part = part.groupby("customer_id", sort=False).head(top)
        part["kind"] = kind
        parts.append(part)
    if not parts:
        return pd.Series(dtype=object)
    tags = pd.concat(parts, ignore_index=True)
    tags["share"] = tags["share"].round(3)
    out: dict[str, dict[str, list[dict[str, object]]]] = {}
    for cid, kind, value, share in zip(tags["customer_id"], tags["kind"], tags["value"], tags["share"], strict=True):
        out.setdefault(str(cid), {}).setdefault(kind, []).append({"value": str(value), "share": float(share)})
    return pd.Series({cid: json.dumps(doc) for cid, doc in out.items()}, dtype=object)
