"""Market-calendar correction: how much busier a send window is than the window the models learned on.

A log-linear model of daily orders in the history: weekday + holiday + store-wide promotion
discount (from the ``calendar`` table). A calendar term is used only where the history shows an
effect (|t| >= 2); otherwise it is left out, and with too little history the factor is 1. Baseline
purchase probabilities scale with the ratio of predicted demand in the send window to predicted
demand in the training window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.store import schema
from marketloop.store.engine import Store

MIN_DAYS = 56


@dataclass
class DemandModel:
    coef: dict[str, float] = field(default_factory=dict)  # term -> effect on log orders (kept terms only)
    t_stats: dict[str, float] = field(default_factory=dict)
    holidays: set[dt.date] = field(default_factory=set)
    promotions: dict[dt.date, float] = field(default_factory=dict)
    days_used: int = 0

    def log_demand(self, days: list[dt.date]) -> np.ndarray:
        out = np.zeros(len(days))
        for i, d in enumerate(days):
            out[i] += self.coef.get(f"weekday_{d.weekday()}", 0.0)
            if d in self.holidays:
                out[i] += self.coef.get("holiday", 0.0)
            out[i] += self.coef.get("promotion_discount", 0.0) * self.promotions.get(d, 0.0)
        return out

    def factor(self, window_start: dt.date, reference_start: dt.date, window_days: int) -> float:
        """Predicted demand over the send window relative to the reference (training) window."""
        if not self.coef:
            return 1.0
        span = [window_start + dt.timedelta(days=k) for k in range(window_days)]
        ref = [reference_start + dt.timedelta(days=k) for k in range(window_days)]
        return float(np.exp(self.log_demand(span)).mean() / np.exp(self.log_demand(ref)).mean())

    def effects(self) -> dict[str, float]:
        """Kept calendar terms as multiplicative effects (e.g. holiday: 1.8 = 80 % busier)."""
        return {k: round(float(np.exp(v)), 3) for k, v in self.coef.items() if not k.startswith("weekday")}


def fit_demand(store: Store) -> DemandModel:
    o, cal = schema.orders, schema.calendar
    day = sa.cast(o.c.ordered_at, sa.Date).label("day")
    daily = store.read_sql(sa.select(day, sa.func.count().label("n")).where(o.c.is_return.is_(False)).group_by(day))
    rows = store.read_sql(
        sa.select(cal.c.day, cal.c.kind, cal.c.discount).where(cal.c.kind.in_(("holiday", "promotion")))
    )
    holidays = {pd.Timestamp(d).date() for d in rows.loc[rows["kind"] == "holiday", "day"]}
    promos = rows[rows["kind"] == "promotion"].assign(day=lambda f: [pd.Timestamp(d).date() for d in f["day"]])
    promotions = promos.groupby("day")["discount"].max().fillna(0.1).astype(float).to_dict() if len(promos) else {}
    model = DemandModel(holidays=holidays, promotions=promotions)
    if len(daily) < 2:
        return model
    daily["day"] = [pd.Timestamp(d).date() for d in daily["day"]]
    first, last = min(daily["day"]), max(daily["day"])
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    if len(days) < MIN_DAYS:
        return model
    counts = daily.set_index("day")["n"].reindex(days).fillna(0).to_numpy(dtype=float)
    y = np.log(counts + 0.5)
    cols = {f"weekday_{w}": np.array([d.weekday() == w for d in days], dtype=float) for w in range(1, 7)}
    cols["holiday"] = np.array([d in holidays for d in days], dtype=float)
    cols["promotion_discount"] = np.array([promotions.get(d, 0.0) for d in days])
    cols = {k: v for k, v in cols.items() if v.std() > 0}
    names = list(cols)
    X = np.column_stack([np.ones(len(days)), np.arange(len(days)) / len(days), *cols.values()])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    sigma2 = float(resid @ resid) / max(1, len(y) - X.shape[1])
    se = np.sqrt(np.diag(sigma2 * np.linalg.pinv(X.T @ X)))
    for i, name in enumerate(names, start=2):
        t = float(beta[i] / se[i]) if se[i] > 0 else 0.0
        model.t_stats[name] = round(t, 2)
        if abs(t) >= 2.0 or name.startswith("weekday"):
            model.coef[name] = float(beta[i])
    model.days_used = len(days)
    return model
