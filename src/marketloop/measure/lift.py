"""Lift against the holdout: conversion rate, revenue per customer and profit per customer, with
normal-approximation (Welch) confidence intervals for the difference of means, overall and by a column."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

METRICS = {"conversion": "converted", "revenue": "revenue", "profit": "profit"}


def diff_ci(treated: np.ndarray, control: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Difference of means (treated - control) and its Welch interval; NaN where an arm is empty."""
    if len(treated) == 0 or len(control) == 0:
        return float("nan"), float("nan"), float("nan")
    diff = float(np.mean(treated) - np.mean(control))
    se = (
        float(np.sqrt(np.var(treated, ddof=1) / len(treated) + np.var(control, ddof=1) / len(control)))
        if len(treated) > 1 and len(control) > 1
        else float("nan")
    )
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return diff, diff - z * se, diff + z * se


def lift(outcomes: pd.DataFrame, by: str | None = None, *, level: float = 0.95) -> pd.DataFrame:
    """One row per level of ``by`` (or one overall row): arm sizes, rates, lifts with intervals, and the
    incremental totals (lift x treated customers). An empty audience gives an empty frame."""
    if outcomes.empty or "is_holdout" not in outcomes:
        return pd.DataFrame()
    groups = [("all", outcomes)] if by is None else list(outcomes.groupby(by, sort=True))
    rows = []
    for key, frame in groups:
        t = frame[~frame["is_holdout"]]
        h = frame[frame["is_holdout"]]
        row = {"level": key, "treated": len(t), "holdout": len(h), "sent": int((t["status"] == "sent").sum())}
        for name, column in METRICS.items():
            if column not in frame:
                continue
            tv, hv = t[column].to_numpy(float), h[column].to_numpy(float)
            d, lo, hi = diff_ci(tv, hv, level)
            row[f"{name}_treated"] = float(tv.mean()) if len(tv) else float("nan")
            row[f"{name}_holdout"] = float(hv.mean()) if len(hv) else float("nan")
            row[f"{name}_lift"], row[f"{name}_low"], row[f"{name}_high"] = d, lo, hi
            row[f"incremental_{name}"] = d * len(t)
        rows.append(row)
    return pd.DataFrame(rows)
