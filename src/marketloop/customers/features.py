"""Behavioural features and horizon labels for the churn and propensity classifiers.

Every feature of a snapshot date uses only orders on or before that date; labels look at the days
after it. Features are plain columns of a DataFrame indexed by customer id.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from marketloop.customers.transactions import History

__all__ = ["FEATURES", "History", "behaviour_features", "no_purchase_labels", "training_snapshots"]

FEATURES = (
    "recency_days",
    "tenure_days",
    "purchase_days",
    "orders",
    "revenue",
    "avg_order_value",
    "returns",
    "return_share",
    "mean_gap_days",
    "gap_std_days",
    "recency_over_gap",
    "days_30d",
    "days_90d",
    "days_180d",
    "spend_90d",
    "spend_365d",
    "trend_90d",
)

#: Plain-language names used in explanations.
LABELS = {
    "recency_days": "days since last order",
    "tenure_days": "days since first order",
    "purchase_days": "purchase days",
    "orders": "orders",
    "revenue": "net spend",
    "avg_order_value": "average order value",
    "returns": "returns",
    "return_share": "share of orders returned",
    "mean_gap_days": "usual days between orders",
    "gap_std_days": "irregularity of orders (days)",
    "recency_over_gap": "time since last order vs usual gap",
    "days_30d": "purchase days in the last 30 days",
    "days_90d": "purchase days in the last 90 days",
    "days_180d": "purchase days in the last 180 days",
    "spend_90d": "spend in the last 90 days",
    "spend_365d": "spend in the last 365 days",
    "trend_90d": "purchase days, last 90 vs previous 90",
}


def behaviour_features(tx: pd.DataFrame | History, as_of: dt.date) -> pd.DataFrame:
    """Features of every customer with a purchase on or before ``as_of`` (index: customer_id).

    Computed on integer customer codes with ``np.bincount`` (no index alignment), because profile
    refreshes call this for several snapshots of millions of orders; pass a :class:`History` to
    share the per-day aggregation between snapshots.
    """
    end = pd.Timestamp(as_of)
    history = History.of(tx)
    daily = history.daily[history.daily["day"] <= end]
    rets = history.returns[history.returns["ts"] < end + pd.Timedelta(days=1)]
    if daily.empty:
        return pd.DataFrame(columns=list(FEATURES), dtype=float)
    cid = daily["customer_id"].astype("category")
    codes = cid.cat.codes.to_numpy()
    uniq, inv = np.unique(codes, return_inverse=True)
    n = len(uniq)
    age = (end - daily["day"]).dt.days.to_numpy()
    amount = daily["amount"].to_numpy(dtype=float)
    order = np.lexsort((-age, inv))  # by customer, oldest purchase first
    inv_s, age_s = inv[order], age[order]
    starts = np.r_[0, np.flatnonzero(inv_s[1:] != inv_s[:-1]) + 1]
    stops = np.r_[starts[1:], len(inv_s)]
    first = age_s[starts].astype(float)
    last = age_s[stops - 1].astype(float)
    count = np.bincount(inv, minlength=n).astype(float)
    same = inv_s[1:] == inv_s[:-1]
    gaps = (age_s[:-1] - age_s[1:])[same].astype(float)
    gap_owner = inv_s[1:][same]
    m = np.bincount(gap_owner, minlength=n).astype(float)
    s1 = np.bincount(gap_owner, weights=gaps, minlength=n)
    s2 = np.bincount(gap_owner, weights=gaps**2, minlength=n)

    def window(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(inv[mask], weights=None if weights is None else weights[mask], minlength=n).astype(float)

    with np.errstate(invalid="ignore", divide="ignore"):
        mean_gap = np.where(m > 0, s1 / np.maximum(m, 1), np.nan)
        gap_std = np.where(m > 1, np.sqrt(np.maximum(s2 - s1**2 / np.maximum(m, 1), 0) / np.maximum(m - 1, 1)), np.nan)
        out = pd.DataFrame(
            {
                "recency_days": last,
                "tenure_days": first,
                "purchase_days": count,
                "orders": np.bincount(inv, weights=daily["orders"].to_numpy(dtype=float), minlength=n),
                "mean_gap_days": mean_gap,
                "gap_std_days": gap_std,
                "recency_over_gap": last / mean_gap,
            },
            index=pd.Index(cid.cat.categories[uniq].astype(str), name="customer_id"),
        )
    for days in (30, 90, 180):
        out[f"days_{days}d"] = window(age < days)
    out["trend_90d"] = out["days_90d"] - window((age >= 90) & (age < 180))
    out["spend_90d"] = window(age < 90, amount)
    out["spend_365d"] = window(age < 365, amount)
    gross = np.bincount(inv, weights=amount, minlength=n)
    r_pos = (
        np.searchsorted(uniq, rets["customer_id"].astype(cid.dtype).cat.codes.to_numpy())
        if len(rets)
        else np.zeros(0, int)
    )
    valid = (r_pos < n) & (
        uniq[np.minimum(r_pos, n - 1)]
        == (rets["customer_id"].astype(cid.dtype).cat.codes.to_numpy() if len(rets) else r_pos)
    )
    n_ret = np.bincount(r_pos[valid], minlength=n).astype(float)
    v_ret = np.bincount(
        r_pos[valid], weights=rets["amount"].to_numpy(dtype=float)[valid] if len(rets) else None, minlength=n
    )
    out["revenue"] = gross + v_ret
    out["avg_order_value"] = gross / out["orders"].to_numpy()
    out["returns"] = n_ret
    out["return_share"] = n_ret / (out["orders"].to_numpy() + n_ret)
    return out[list(FEATURES)].astype(float)


def _ids(frame):  # noqa: ANN001, ANN202 - Series or DataFrame
    """Plain string customer ids as the index (categorical indexes of different subsets do not align)."""
    return frame.set_axis(frame.index.astype(str))


def no_purchase_labels(tx: pd.DataFrame | History, customers: pd.Index, as_of: dt.date, horizon_days: int) -> pd.Series:
    """True where the customer made no purchase in (as_of, as_of + horizon_days]."""
    daily = History.of(tx).daily
    start = pd.Timestamp(as_of)
    rows = daily[(daily["day"] > start) & (daily["day"] <= start + pd.Timedelta(days=horizon_days))]
    buyers = {str(c) for c in rows["customer_id"].unique()}
    bought = np.fromiter((c in buyers for c in customers.to_numpy(dtype=object)), dtype=bool, count=len(customers))
    return pd.Series(~bought, index=customers, dtype=bool)


def training_snapshots(
    tx: pd.DataFrame | History, last: dt.date, horizon_days: int, count: int = 3, step_days: int = 14
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and no-purchase labels of ``count`` snapshots ending at ``last``, ``step_days`` apart,
    stacked: more (correlated) examples of how customers behave before they lapse. Snapshots with
    no customers are skipped."""
    tx = History.of(tx)
    frames, labels = [], []
    for k in range(count):
        day = last - dt.timedelta(days=k * step_days)
        X = behaviour_features(tx, day)
        if X.empty:
            continue
        frames.append(X)
        labels.append(no_purchase_labels(tx, X.index, day, horizon_days).to_numpy())
    if not frames:
        return behaviour_features(tx, last), np.zeros(0, dtype=bool)
    return pd.concat(frames), np.concatenate(labels)
