"""Where interactions come from: interaction files (UCI Online Retail, Taobao UserBehavior, any CSV /
Parquet) for offline evaluation, and the store's canonical tables for training the served models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.errors import InputError, NotFoundError

FORMATS = ("uci", "taobao", "generic")
#: Taobao behaviour strengths: the rating used for training weights and for `--min-rating`.
TAOBAO_WEIGHTS = {"pv": 1.0, "fav": 2.0, "cart": 3.0, "buy": 4.0}
#: UCI codes that are fees, postage or adjustments rather than products.
UCI_NON_PRODUCT = {"POST", "DOT", "M", "C2", "BANK CHARGES", "AMAZONFEE", "CRUK", "D", "S", "PADS", "B", "m"}


@dataclass(frozen=True)
class InteractionFrame:
    """A normalised interaction table (columns user, item, ts, rating) plus product attributes."""

    frame: pd.DataFrame
    products: pd.DataFrame
    default_min_rating: float | None = None


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise NotFoundError(f"interactions file {str(path)!r} does not exist", hint="Check the --interactions path.")
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            return pd.read_json(path, lines=True)
        return pd.read_csv(path, low_memory=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(
            f"cannot read {str(path)!r} as a table: {exc}",
            field="interactions",
            value=str(path),
            hint="Give a CSV (optionally gzipped), Parquet or JSON Lines file.",
        ) from None


def read_interactions(
    path: str | Path,
    fmt: str = "generic",
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str = "timestamp",
    rating_col: str | None = None,
) -> InteractionFrame:
    """Read an interaction file into the normalised shape."""
    if fmt not in FORMATS:
        raise InputError(
            f"format {fmt!r} is not known (expected one of: {', '.join(FORMATS)})",
            field="format",
            value=fmt,
            hint="Use --format uci, taobao or generic.",
        )
    raw = _read_table(Path(path))
    if fmt == "uci":
        return _uci(raw)
    if fmt == "taobao":
        return _taobao(raw)
    missing = [c for c in (user_col, item_col, time_col) if c not in raw.columns]
    if rating_col is not None and rating_col not in raw.columns:
        missing.append(rating_col)
    if missing:
        raise InputError(
            f"column(s) {', '.join(map(repr, missing))} not in {Path(path).name} "
            f"(columns: {', '.join(map(str, raw.columns))})",
            field="columns",
            value=missing,
            hint="Name the columns with --user-col, --item-col, --time-col and --rating-col.",
        )
    frame = pd.DataFrame(
        {
            "user": raw[user_col].astype(str),
            "item": raw[item_col].astype(str),
            "ts": raw[time_col],
            "rating": pd.to_numeric(raw[rating_col], errors="coerce") if rating_col else 1.0,
        }
    ).dropna(subset=["user", "item", "ts", "rating"])
    return InteractionFrame(frame, pd.DataFrame({"product_id": frame["item"].unique()}))


def _uci(raw: pd.DataFrame) -> InteractionFrame:
    need = {"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"}
    missing = sorted(need - set(raw.columns))
    if missing:
        raise InputError(
            f"the file is not in UCI Online Retail format: missing {', '.join(missing)}",
            field="format",
            value="uci",
            hint="Use --format generic with --user-col/--item-col/--time-col for other files.",
        )
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
    need = {"user_id", "item_id", "category_id", "behavior_type", "timestamp"}
    missing = sorted(need - set(raw.columns))
    if missing:
        raise InputError(
            f"the file is not in Taobao UserBehavior format: missing {', '.join(missing)}",
            field="format",
            value="taobao",
            hint="Expected columns user_id,item_id,category_id,behavior_type,timestamp.",
        )
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
    frame = pd.concat([buys, events], ignore_index=True)
    frame["user"] = frame["user"].astype(str)
    frame["item"] = frame["item"].astype(str)
    frame = frame[~frame["item"].isin(non_products)]
    frame["ts"] = pd.to_datetime(frame["ts"])
    return InteractionFrame(
        frame.reset_index(drop=True), products[~products["product_id"].astype(str).isin(non_products)]
    )
