"""Where interactions come from: interaction files (UCI Online Retail, Taobao UserBehavior, any CSV /
Parquet) for offline evaluation, and the store's canonical tables for training the served models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.errors import InputError
from marketloop.store.ingest.frames import read_frame

FORMATS = ("uci", "taobao", "generic")
#: Taobao behaviour strengths: the rating used for training weights and for `--min-rating`.
TAOBAO_WEIGHTS = {"pv": 1.0, "fav": 2.0, "cart": 3.0, "buy": 4.0}
#: UCI codes that are fees, postage or adjustments rather than products.
UCI_COLUMNS = {"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"}
TAOBAO_COLUMNS = {"user_id", "item_id", "category_id", "behavior_type", "timestamp"}
UCI_NON_PRODUCT = {"POST", "DOT", "M", "C2", "BANK CHARGES", "AMAZONFEE", "CRUK", "D", "S", "PADS", "B", "m"}


@dataclass(frozen=True)
class InteractionFrame:
    """A normalised interaction table (columns user, item, ts, rating) plus product attributes."""

    frame: pd.DataFrame
    products: pd.DataFrame
    default_min_rating: float | None = None
    #: the rating column holds explicit ratings (stars), so rating-prediction metrics apply
    explicit: bool = False


def read_interactions(
    path: str | Path,
    fmt: str = "generic",
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str = "timestamp",
    rating_col: str | None = None,
    session_col: str | None = None,
    sep: str | None = None,
) -> InteractionFrame:
    """Read an interaction file into the normalised shape (`sep`: the separator of a delimited file;
    `session_col`: generic files' visit / session id column, kept as ``session``)."""
    if fmt not in FORMATS:
        raise InputError(
            f"format {fmt!r} is not known (expected one of: {', '.join(FORMATS)})",
            field="format",
            value=fmt,
            hint="Use --format uci, taobao or generic.",
        )
    if fmt == "uci":
        return _uci(read_frame(path, sep=sep, columns=sorted(UCI_COLUMNS), option="--interactions"))
    if fmt == "taobao":
        return _taobao(read_frame(path, sep=sep, columns=sorted(TAOBAO_COLUMNS), option="--interactions"))
    wanted = [user_col, item_col, time_col, *(c for c in (rating_col, session_col) if c is not None)]
    raw = read_frame(path, sep=sep, columns=wanted, option="--interactions")
    raw = raw.dropna(subset=[user_col, item_col, time_col])  # before astype(str), which writes None as 'None'
    frame = pd.DataFrame(
        {
            "user": raw[user_col].astype(str),
            "item": raw[item_col].astype(str),
            "ts": raw[time_col],
            "rating": pd.to_numeric(raw[rating_col], errors="coerce") if rating_col else 1.0,
        }
    )
    if session_col is not None:
        frame["session"] = raw[session_col].astype(str).where(raw[session_col].notna())
    frame = frame.dropna(subset=["user", "item", "ts", "rating"])
    return InteractionFrame(
        frame, pd.DataFrame({"product_id": frame["item"].unique()}), explicit=rating_col is not None
    )


def _uci(raw: pd.DataFrame) -> InteractionFrame:
    d = raw.dropna(subset=["CustomerID"])
    d = d[~d["InvoiceNo"].astype(str).str.startswith("C") & (d["Quantity"] > 0) & (d["UnitPrice"] > 0)]
    code = d["StockCode"].astype(str).str.strip()
    d = d[~code.isin(UCI_NON_PRODUCT) & code.str.match(r"^\d")]
    user = d["CustomerID"].astype(float).astype(np.int64).astype(str)
    frame = pd.DataFrame(
        {
            "user": user.to_numpy(),
            "item": d["StockCode"].astype(str).str.strip().to_numpy(),
            "ts": pd.to_datetime(d["InvoiceDate"], format="mixed").to_numpy(),
            "rating": 1.0,
            "basket": d["InvoiceNo"].astype(str).to_numpy(),
        }
    )
    prices = (
        d.assign(item=frame["item"].to_numpy())
        .groupby("item")
        .agg(
            name=("Description", lambda s: s.dropna().astype(str).mode().iloc[0] if s.notna().any() else ""),
            price=("UnitPrice", "median"),
        )
    )
    products = prices.reset_index().rename(columns={"item": "product_id"})
    return InteractionFrame(frame, products)


def _taobao(raw: pd.DataFrame) -> InteractionFrame:
    d = raw[raw["behavior_type"].isin(list(TAOBAO_WEIGHTS))]
    ts = pd.to_datetime(d["timestamp"], unit="s")
    # The public file's nominal window is 2017-11-25 .. 2017-12-03 (China time); drop stray rows.
    ok = (ts >= "2017-11-24 16:00:00") & (ts < "2017-12-03 16:00:00")
    d, ts = d[ok], ts[ok]
    frame = pd.DataFrame(
        {
            "user": d["user_id"].astype(str).to_numpy(),
            "item": d["item_id"].astype(str).to_numpy(),
            "ts": ts.to_numpy(),
            "rating": d["behavior_type"].map(TAOBAO_WEIGHTS).to_numpy(),
        }
    )
    # the public file has no visit ids: sessions are cut at 30 minutes of inactivity (evaluation.sessionize)
    products = (
        d.assign(product_id=d["item_id"].astype(str), category=d["category_id"].astype(str))[["product_id", "category"]]
        .drop_duplicates("product_id")
        .reset_index(drop=True)
    )
    return InteractionFrame(frame, products, default_min_rating=TAOBAO_WEIGHTS["buy"])


def store_interactions(store) -> InteractionFrame:  # noqa: ANN001 - Store
    """Purchases (completed, non-return order lines) and behaviour events from the store.

    Ratings: view 1, wishlist 2, add to cart 3, purchase 4 (the Taobao scale); products carry text,
    category, brand, price, cost, stock and the hidden / is_product flags.
    """
    from marketloop.store import schema

    o, ol, ev, pr = schema.orders, schema.order_lines, schema.events, schema.products
    buys = store.read_sql(
        sa.select(
            o.c.customer_id.label("user"),
            ol.c.product_id.label("item"),
            o.c.ordered_at.label("ts"),
            o.c.order_id.label("basket"),
        )
        .select_from(ol.join(o, ol.c.order_id == o.c.order_id))
        .where(
            o.c.customer_id.is_not(None),
            o.c.is_return.is_(False),
            ol.c.quantity > 0,
            o.c.status.in_(["completed", "pending"]),
        )
    )
    buys["rating"] = TAOBAO_WEIGHTS["buy"]
    weights = {"view": 1.0, "wishlist": 2.0, "add_to_cart": 3.0}
    events = store.read_sql(
        sa.select(ev.c.customer_id.label("user"), ev.c.product_id.label("item"), ev.c.ts, ev.c.event_type).where(
            ev.c.customer_id.is_not(None), ev.c.product_id.is_not(None), ev.c.event_type.in_(list(weights))
        )
    )
    events["rating"] = events.pop("event_type").map(weights)
    products = store.read_sql(sa.select(pr))
    if "is_product" in products.columns:
        non_products = set(products.loc[~products["is_product"].fillna(True).astype(bool), "product_id"].astype(str))
    else:
        non_products = set()
    # an empty part would make pandas 2 warn about its all-NA columns
    frame = pd.concat([part for part in (buys, events) if len(part)] or [buys], ignore_index=True)
    frame["user"] = frame["user"].astype(str)
    frame["item"] = frame["item"].astype(str)
    frame = frame[~frame["item"].isin(non_products)]
    frame["ts"] = pd.to_datetime(frame["ts"])
    return InteractionFrame(
        frame.reset_index(drop=True), products[~products["product_id"].astype(str).isin(non_products)]
    )
