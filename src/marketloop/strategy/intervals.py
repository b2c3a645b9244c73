"""Predicted effects with bootstrap intervals, for a group of customers or the whole plan.

Two sources of uncertainty are combined: the model's (bootstrap draws of each arm's calibration,
refitted on resampled out-of-fold rows: the uncertainty of how large the uplift really is) and the
draw of outcomes (the campaign's own luck: independent purchases with the predicted
probabilities). Intervals are 90 % (5th to 95th percentile of the combined draws).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from marketloop.store.campaigns import Interval
from marketloop.strategy.candidates import ArmPrediction

LEVEL = 0.9
NAMES = (
    "reach",
    "opens",
    "clicks",
    "conversions",
    "incremental_conversions",
    "incremental_revenue",
    "cost",
    "incremental_profit",
    "roi",
)


def _sums(
    arm: ArmPrediction,
    idx: np.ndarray,
    basket: np.ndarray,
    cost: np.ndarray,
    draws: dict[str, np.ndarray],
    share: float,
) -> tuple[dict, dict, dict]:
    """Point estimates, draw arrays (without outcome noise) and outcome-noise variances of the sums."""
    p0, b, c, d = arm.p0[idx], basket[idx], cost[idx], arm.discount
    tau, p1 = arm.tau[idx], arm.p1[idx]
    n = len(idx)

    def tau_dot(w: np.ndarray) -> np.ndarray:
        """Bootstrap draws of sum(tau x w): each calibrated part is intercept x sum(w) + slope x raw . w."""
        out = np.zeros(len(next(iter(draws.values()))))
        for key, raw in arm.components:
            out += draws[key][:, 0] * w.sum() + draws[key][:, 1] * (raw[idx] @ w)
        return out

    s = share
    point = {
        "reach": s * n,
        "opens": s * arm.opens[idx].sum(),
        "clicks": s * arm.clicks[idx].sum(),
        "conversions": s * p1.sum(),
        "incremental_conversions": s * tau.sum(),
        "incremental_revenue": s * arm.incremental_revenue[idx].sum(),
        "cost": s * arm.spend[idx].sum(),
        "incremental_profit": s * arm.incremental_profit[idx].sum(),
    }
    sum_tau = tau_dot(np.ones(n))
    sum_tau_b = tau_dot(b)
    sum_tau_m = tau_dot(b * (1 - c))
    n_draws = len(sum_tau)
    drawn = {
        "reach": np.full(n_draws, s * n),
        "opens": np.full(n_draws, point["opens"]),
        "clicks": np.full(n_draws, point["clicks"]),
        "conversions": s * (p0.sum() + sum_tau),
        "incremental_conversions": s * sum_tau,
        "incremental_revenue": s * (sum_tau_b * (1 - d) - d * (p0 @ b)),
        "cost": s * ((p0 @ b + sum_tau_b) * d + n * arm.send_cost),
        "incremental_profit": s * (sum_tau_m - (p0 @ b + sum_tau_b) * d - n * arm.send_cost),
    }
    q = np.abs(tau)
    margin = b * (1 - c - d)
    noise = {
        "reach": s * (1 - s) * n,
        "opens": s * (arm.opens[idx] * (1 - arm.opens[idx])).sum(),
        "clicks": s * (arm.clicks[idx] * (1 - arm.clicks[idx])).sum(),
        "conversions": s * (p1 * (1 - p1)).sum(),
        "incremental_conversions": s * q.sum(),
        "incremental_revenue": s * (q * b**2).sum(),
        "cost": s * (p1 * (1 - p1) * (b * d) ** 2).sum(),
        "incremental_profit": s * (q * margin**2).sum(),
    }
    return point, drawn, noise


def _intervals(point: dict, drawn: dict, noise: dict, rng: np.random.Generator) -> dict[str, Interval]:
    out: dict[str, Interval] = {}
    lo_q, hi_q = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2
    combined = {}
    for name, values in drawn.items():
        combined[name] = values + rng.normal(0.0, np.sqrt(max(noise[name], 0.0)), size=len(values))
        lo, hi = np.quantile(combined[name], [lo_q, hi_q])
        mean = float(point[name])
        out[name] = Interval(
            mean=round(mean, 4), low=round(min(float(lo), mean), 4), high=round(max(float(hi), mean), 4), level=LEVEL
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = combined["incremental_profit"] / combined["cost"]
    roi_point = point["incremental_profit"] / point["cost"] if point["cost"] > 0 else 0.0
    finite = roi[np.isfinite(roi)]
    lo, hi = np.quantile(finite, [lo_q, hi_q]) if len(finite) else (roi_point, roi_point)
    out["roi"] = Interval(
        mean=round(roi_point, 4),
        low=round(min(float(lo), roi_point), 4),
        high=round(max(float(hi), roi_point), 4),
        level=LEVEL,
    )
    return out


def group_predictions(
    arm: ArmPrediction,
    idx: np.ndarray,
    basket: np.ndarray,
    cost: np.ndarray,
    draws: dict[str, np.ndarray],
    rng: np.random.Generator,
    share: float = 1.0,
) -> dict[str, Interval]:
    return _intervals(*_sums(arm, np.asarray(idx), basket, cost, draws, share), rng)


def total_predictions(
    arms: list[ArmPrediction],
    decisions: pd.DataFrame,
    included: np.ndarray,
    basket: np.ndarray,
    cost: np.ndarray,
    draws: dict,
    rng: np.random.Generator,
    share: float,
) -> dict[str, Interval]:
    """Plan totals over the included customers (each with its own arm); zeros when nobody is included."""
    point = {k: 0.0 for k in NAMES if k != "roi"}
    n_draws = len(next(iter(draws.values())))
    drawn = {k: np.zeros(n_draws) for k in point}
    noise = {k: 0.0 for k in point}
    pick = decisions["arm_index"].to_numpy()
    for k, arm in enumerate(arms):
        idx = np.nonzero(included & (pick == k))[0]
        if not len(idx):
            continue
        p, d, v = _sums(arm, idx, basket, cost, draws, share)
        for name in point:
            point[name] += p[name]
            drawn[name] += d[name]
            noise[name] += v[name]
    return _intervals(point, drawn, noise, rng)
