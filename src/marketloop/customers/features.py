"""Behavioural features and horizon labels for the churn and propensity classifiers.

Every feature of a snapshot date uses only orders on or before that date; labels look at the days
after it. Features are plain columns of a DataFrame indexed by customer id.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from marketloop.customers.transactions import daily_purchases

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


def behaviour_features(tx: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Features of every customer with a purchase on or before ``as_of`` (index: customer_id)."""
    end = pd.Timestamp(as_of)
    known = tx[tx["customer_id"].notna() & (tx["ts"] < end + pd.Timedelta(days=1))]
    daily = daily_purchases(known).sort_values(["customer_id", "day"], kind="stable")
    age = (end - daily["day"]).dt.days.to_numpy()
    daily = daily.assign(age=age)
    g = daily.groupby("customer_id", sort=True)
    first = g["age"].max()
    last = g["age"].min()
    n_days = g["age"].size()
    gaps = daily.groupby("customer_id", sort=True)["age"].diff().abs()
    gap_std = gaps.groupby(daily["customer_id"]).std().reindex(first.index)
    out = pd.DataFrame(index=first.index)
    out["recency_days"] = last
    out["tenure_days"] = first
    out["purchase_days"] = n_days
    out["orders"] = g["orders"].sum()
    out["mean_gap_days"] = np.where(n_days > 1, (first - last) / (n_days - 1).clip(lower=1), np.nan)
    out["gap_std_days"] = gap_std
    out["recency_over_gap"] = out["recency_days"] / out["mean_gap_days"]
    for days in (30, 90, 180):
        out[f"days_{days}d"] = daily[daily["age"] < days].groupby("customer_id").size().reindex(out.index, fill_value=0)
    prev = daily[(daily["age"] >= 90) & (daily["age"] < 180)].groupby("customer_id").size().reindex(out.index, fill_value=0)
    out["trend_90d"] = out["days_90d"] - prev
    for days in (90, 365):
        out[f"spend_{days}d"] = daily[daily["age"] < days].groupby("customer_id")["amount"].sum().reindex(out.index, fill_value=0.0)
    returns = known[known["is_return"]].groupby("customer_id").agg(n=("amount", "size"), value=("amount", "sum"))
    returns = returns.reindex(out.index).fillna(0)
    gross = g["amount"].sum()
    out["revenue"] = gross + returns["value"]
    out["avg_order_value"] = gross / out["orders"]
    out["returns"] = returns["n"]
    out["return_share"] = returns["n"] / (out["orders"] + returns["n"])
    out.index = out.index.astype(str)
    return out[list(FEATURES)].astype(float)


def no_purchase_labels(tx: pd.DataFrame, customers: pd.Index, as_of: dt.date, horizon_days: int) -> pd.Series:
    """True where the customer made no purchase in (as_of, as_of + horizon_days]."""
    start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    stop = start + pd.Timedelta(days=horizon_days)
    rows = tx[tx["customer_id"].notna() & ~tx["is_return"] & (tx["ts"] >= start) & (tx["ts"] < stop)]
    buyers = pd.Index(rows["customer_id"].astype(str).unique())
    return pd.Series(~customers.isin(buyers), index=customers, dtype=bool)


def training_snapshots(tx: pd.DataFrame, last: dt.date, horizon_days: int, count: int = 3,
                       step_days: int = 14) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and no-purchase labels of ``count`` snapshots ending at ``last``, ``step_days`` apart,
    stacked: more (correlated) examples of how customers behave before they lapse. Snapshots with
    no customers are skipped."""
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
