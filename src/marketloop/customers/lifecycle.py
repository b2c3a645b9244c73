"""Activity recency and the lifecycle stage of each profiled customer.

Orders alone say little about whether a customer is still around: most shoppers order once or twice a
year, so an order-based recency (or BG/NBD's P(alive), which is 1 for every one-order customer) cannot
tell a quiet customer from a gone one. Browsing is far more frequent, and customers who leave stop
browsing too. So the profile keeps the customer's **last activity** (the latest event of any type in
``events`` or order in ``orders``, up to the end of ``as_of``) and reads the stage from how long the
customer has been silent compared with **their own usual cadence**.

:func:`activity_summary` is one aggregate query (grouped by customer over events and orders, run in the
database). :func:`lifecycle_stages` applies the rule, vectorised:

- **cadence** (``activity_gap_days``): the customer's mean gap between active days,
  ``(last active day - first active day + m) / active days``, i.e. the observed gaps plus one
  pseudo-gap of the store's median cadence ``m`` (the median of the plain mean gap over the profiled
  customers with two or more active days). The pseudo-gap gives a one-day customer the store's usual cadence and keeps
  a two-day customer's single gap from deciding alone.
- **new**: the first order is less than :data:`NEW_DAYS` days before ``as_of``.
- **churned**: silent for at least :data:`CHURNED_MIN_DAYS` days and for at least
  :data:`CHURNED_GAPS` usual gaps. If the customer still came back at their usual rate (a Poisson
  process), a silence that long would happen with probability ``exp(-3)``, about 5 %.
- **at_risk**: silent for at least :data:`AT_RISK_MIN_DAYS` days and at least :data:`AT_RISK_GAPS`
  usual gaps (probability about 10 % for a customer still at their usual rate).
- **active**: everyone else.

The thresholds were fixed by these meanings and checked on simulator seeds 1-3 (not on seed 0, which
``marketloop eval profiles`` reports); see docs/customers.md. ``p_alive`` and the churn probability are
not used: both rest on orders and barely differ across the stages when most customers have one order.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.customers.frames import read_frame
from marketloop.store import schema

STAGES = ("new", "active", "at_risk", "churned")
NEW_DAYS = 30
AT_RISK_GAPS = 2.3  # exp(-2.3) ~ 0.10
AT_RISK_MIN_DAYS = 30
CHURNED_GAPS = 3.0  # exp(-3) ~ 0.05
CHURNED_MIN_DAYS = 90
#: the cadence used when no customer has two active days (one month)
FALLBACK_GAP_DAYS = 30.0


def activity_summary(store, as_of: dt.date) -> pd.DataFrame:  # noqa: ANN001 - Store
    """Per customer with any activity up to the end of ``as_of``: ``last_active_at`` (timestamp),
    ``first_active_day``, ``last_active_day`` and ``active_days`` (distinct days with an event or order).

    One query: the events' and orders' (customer, timestamp) pairs, unioned and grouped by customer.
    Every order counts as activity whatever its status (placing it was a visit)."""
    frame = read_frame(store, activity_query(as_of))
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame.set_index("customer_id")


def activity_query(as_of: dt.date) -> sa.Select:
    """The portable query behind :func:`activity_summary` (also run by the distributed engine)."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    ev, o = schema.events, schema.orders
    touches = sa.union_all(
        sa.select(ev.c.customer_id.label("customer_id"), ev.c.ts.label("ts")).where(
            ev.c.customer_id.isnot(None), ev.c.ts < end
        ),
        sa.select(o.c.customer_id, o.c.ordered_at).where(o.c.customer_id.isnot(None), o.c.ordered_at < end),
    ).subquery("touches")
    day = sa.cast(touches.c.ts, sa.Date)
    return sa.select(
        touches.c.customer_id,
        sa.func.max(touches.c.ts).label("last_active_at"),
        sa.func.min(day).label("first_active_day"),
        sa.func.max(day).label("last_active_day"),
        sa.func.count(sa.distinct(day)).label("active_days"),
    ).group_by(touches.c.customer_id)


def typical_gap(span: np.ndarray, repeats: np.ndarray) -> float:
    """The store's median cadence: the median plain mean gap of the customers with two or more active days."""
    own = span[repeats >= 1] / repeats[repeats >= 1]
    return float(np.median(own)) if len(own) else FALLBACK_GAP_DAYS


def lifecycle_stages(
    first_order_at: pd.Series, activity: pd.DataFrame, as_of: dt.date, typical: float | None = None
) -> pd.DataFrame:
    """``days_inactive``, ``activity_gap_days`` and ``lifecycle_stage`` for the customers of
    ``first_order_at`` (indexed by customer id), from :func:`activity_summary` rows (rule in the module
    docstring). A customer without activity rows (cannot happen for a profiled customer, whose orders are
    activity) gets null recency and the stage ``churned`` unless new. ``typical``, the store's median
    cadence, is computed from these customers unless given (a partition of them needs the population's)."""
    ids = first_order_at.index
    act = activity.reindex(ids)
    base = pd.Timestamp(as_of)
    last_day = pd.to_datetime(act["last_active_day"])
    days_inactive = (base - last_day).dt.days.to_numpy(dtype=float)
    span = (last_day - pd.to_datetime(act["first_active_day"])).dt.days.to_numpy(dtype=float)
    repeats = act["active_days"].to_numpy(dtype=float) - 1
    if typical is None:
        typical = typical_gap(span, repeats)
    gap = np.maximum((span + typical) / (repeats + 1), 1.0)
    silent_gaps = days_inactive / gap
    tenure = (base - pd.to_datetime(first_order_at)).dt.days.to_numpy(dtype=float)
    known = ~np.isnan(days_inactive)
    stage = np.select(
        [
            tenure < NEW_DAYS,
            ~known | ((days_inactive >= CHURNED_MIN_DAYS) & (silent_gaps >= CHURNED_GAPS)),
            (days_inactive >= AT_RISK_MIN_DAYS) & (silent_gaps >= AT_RISK_GAPS),
        ],
        ["new", "churned", "at_risk"],
        "active",
    )
    return pd.DataFrame(
        {
            "days_inactive": pd.array(np.where(known, days_inactive, np.nan), dtype="Int64"),
            "activity_gap_days": np.where(known, np.round(gap, 1), np.nan),
            "lifecycle_stage": stage.astype(object),
        },
        index=ids,
    )
