"""Sales history for forecasting, read from the store's orders and order lines.

Demand is what customers ordered: units on order lines of orders that are not returns, per product and
day, for catalogue items (``is_product``). The realised price is the units-weighted mean unit price of
the day's lines, so the store's own price changes (and per-line discounts) are visible to the model.
Aggregation to the day is portable SQL (``CAST(ts AS DATE)``), the same on every backend.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from marketloop.errors import InputError
from marketloop.forecast.calendar import read_calendar
from marketloop.store import schema
from marketloop.store.engine import Store

#: Category of products without one.
UNCATEGORISED = "(none)"


@dataclass
class SalesHistory:
    """Daily units per product plus what the model needs around them."""

    sales: pd.DataFrame  # product_id, ds (Timestamp), units, revenue; only days with sales
    products: pd.DataFrame  # product_id, category, price, stock, created_at (index-free)
    calendar: pd.DataFrame  # calendar rows (day, kind, name, discount, value)
    end: pd.Timestamp  # the last day of history (inclusive)

    @property
    def start(self) -> pd.Timestamp:
        return self.sales["ds"].min()

    def until(self, end: pd.Timestamp) -> SalesHistory:
        """The history as it was on ``end`` (sales after it dropped)."""
        return SalesHistory(self.sales[self.sales["ds"] <= end], self.products, self.calendar, pd.Timestamp(end))


def read_sales(store: Store, as_of: dt.date | None = None) -> SalesHistory:
    """Read the store's daily sales per product up to ``as_of`` (inclusive; default: the last sale)."""
    o, lines, p = schema.orders, schema.order_lines, schema.products
    day = sa.cast(o.c.ordered_at, sa.Date).label("ds")
    where = [o.c.is_return.is_(False), lines.c.quantity > 0, p.c.is_product.is_(True)]
    if as_of is not None:
        where.append(o.c.ordered_at < dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))
    sales = store.read_sql(
        sa.select(
            lines.c.product_id,
            day,
            sa.func.sum(lines.c.quantity).label("units"),
            sa.func.sum(lines.c.quantity * lines.c.unit_price).label("revenue"),
        )
        .select_from(lines.join(o, o.c.order_id == lines.c.order_id).join(p, p.c.product_id == lines.c.product_id))
        .where(*where)
        .group_by(lines.c.product_id, day)
    )
    if sales.empty:
        raise InputError(
            "orders: the store has no sales to forecast from",
            field="orders",
            hint="Load orders and order lines first (marketloop ingest, or marketloop demo).",
        )
    sales["product_id"] = sales["product_id"].astype(str)
    sales["ds"] = pd.to_datetime(sales["ds"])
    sales["units"] = pd.to_numeric(sales["units"]).astype(float)
    sales["revenue"] = pd.to_numeric(sales["revenue"]).astype(float)
    products = read_products(store)
    end = pd.Timestamp(as_of) if as_of is not None else sales["ds"].max()
    return SalesHistory(sales.sort_values(["product_id", "ds"], ignore_index=True), products, read_calendar(store), end)


def read_products(store: Store) -> pd.DataFrame:
    p = schema.products
    products = store.read_sql(
        sa.select(p.c.product_id, p.c.name, p.c.category, p.c.price, p.c.stock, p.c.created_at, p.c.hidden).where(
            p.c.is_product.is_(True)
        )
    )
    products["product_id"] = products["product_id"].astype(str)
    products["category"] = products["category"].fillna(UNCATEGORISED).astype(str)
    products["price"] = pd.to_numeric(products["price"], errors="coerce")
    products["stock"] = pd.to_numeric(products["stock"], errors="coerce")
    return products
