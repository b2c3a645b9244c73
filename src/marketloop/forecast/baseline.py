"""What the forecasts tell the planner: how busy a send window is, and who buys the stock to clear.

**Demand factor.** The planner's response model learned baseline purchase probabilities in the window
of a past randomised test; a campaign sent in another window meets another demand (a holiday, a
promotion, the season, a price change). The factor is the store's forecast units per day over the
send window (the latest forecast run, whose features hold the calendar and prices) over the units
per day actually sold in the reference window. Without a run covering the send window the factor is
1 and the reason says why.

**Units per order.** For a clear-stock goal, each customer's expected units of the products to clear
per order: their own history of such units per order, shrunk towards the store's with the weight of
``shrink`` orders (a customer with no orders gets the store's rate).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.errors import NotFoundError
from marketloop.forecast.storage import daily_history, get_run, read_forecasts
from marketloop.store import schema
from marketloop.store.engine import Store


@dataclass(frozen=True)
class DemandFactor:
    factor: float
    run_id: str | None
    forecast_per_day: float | None
    reference_per_day: float | None
    reason: str

    def to_dict(self) -> dict:
        return {
            "factor": round(self.factor, 3),
            "run_id": self.run_id,
            "forecast_units_per_day": None if self.forecast_per_day is None else round(self.forecast_per_day, 2),
            "reference_units_per_day": None if self.reference_per_day is None else round(self.reference_per_day, 2),
            "reason": self.reason,
        }


def demand_factor(store: Store, window_start: dt.date, reference_start: dt.date, window_days: int) -> DemandFactor:
    """Forecast demand in ``[window_start, +window_days)`` over realised demand in the reference window."""
    try:
        run = get_run(store)
    except NotFoundError:
        return DemandFactor(1.0, None, None, None, "no demand forecast in the store (marketloop forecast train)")
    fc = read_forecasts(store, run.run_id, level="store")
    if run.freq == "W":  # weekly totals, spread over their days
        fc = pd.concat(
            [fc.assign(ds=fc["ds"] + pd.Timedelta(days=k), forecast=fc["forecast"] / 7.0) for k in range(7)],
            ignore_index=True,
        )
    days = pd.date_range(pd.Timestamp(window_start), periods=window_days, freq="D")
    covered = fc[fc["ds"].isin(days)]
    if covered.empty:
        return DemandFactor(
            1.0, run.run_id, None, None, f"forecast run {run.run_id} does not reach the send window ({window_start})"
        )
    ref = daily_history(store, "store", "all", reference_start)
    ref_days = pd.date_range(pd.Timestamp(reference_start), periods=window_days, freq="D")
    ref_units = ref.set_index("ds")["units"].reindex(ref_days).fillna(0.0)
    if ref_units.sum() <= 0:
        return DemandFactor(1.0, run.run_id, None, None, "no sales in the reference window")
    per_day = float(covered["forecast"].mean())
    reference = float(ref_units.mean())
    return DemandFactor(per_day / reference, run.run_id, per_day, reference, "forecast / reference sales")


def units_per_order(store: Store, customer_ids: pd.Index, product_ids: list[str], shrink: float = 2.0) -> np.ndarray:
    """Per customer (aligned with ``customer_ids``): expected units of ``product_ids`` per order."""
    o, lines = schema.orders, schema.order_lines
    sales = sa.and_(o.c.is_return.is_(False), o.c.customer_id.is_not(None))
    orders = store.read_sql(
        sa.select(o.c.customer_id, sa.func.count().label("orders")).where(sales).group_by(o.c.customer_id)
    )
    units = store.read_sql(
        sa.select(o.c.customer_id, sa.func.sum(lines.c.quantity).label("units"))
        .select_from(lines.join(o, o.c.order_id == lines.c.order_id))
        .where(sales, lines.c.product_id.in_([str(p) for p in product_ids]), lines.c.quantity > 0)
        .group_by(o.c.customer_id)
    )
    n = orders.set_index(orders["customer_id"].astype(str))["orders"].astype(float)
    u = units.set_index(units["customer_id"].astype(str))["units"].astype(float)
    store_rate = float(u.sum() / n.sum()) if n.sum() > 0 else 0.0
    ids = pd.Index(customer_ids.astype(str))
    n_i = n.reindex(ids).fillna(0.0).to_numpy()
    u_i = u.reindex(ids).fillna(0.0).to_numpy()
    return (u_i + shrink * store_rate) / (n_i + shrink)
