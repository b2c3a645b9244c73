"""Split an ad budget across ad sets by predicted incremental return, with diminishing returns.

**Response model.** Each ad set ``i`` returns, for spend ``s`` in a period,

    R_i(s) = a_i (1 - exp(-s / b_i))

incremental value (e.g. incremental conversions x margin): ``a_i`` is the most it can return (its
audience saturates), ``b_i`` the spend at which it reaches 63 % of that; the first unit of money
returns ``a_i / b_i`` and every further unit less (the marginal return ``(a_i / b_i) exp(-s / b_i)``
falls). The exponential saturation curve is the simplest concave curve with a finite ceiling,
which is what audiences of finite size do.

**Estimation.** From the results so far (spend and incremental value per ad set and period), ``a_i``
and ``b_i`` are fitted by least squares (``scipy.optimize.curve_fit``) with the pooled curve of all
ad sets as a prior: the fit minimises the squared errors plus ``prior_weight`` pseudo-observations
of the pooled curve at the ad set's mean spend, so an ad set with one or two results stays near
the pool and one with many follows its own data. :meth:`BudgetAllocator.update` adds results and
re-estimates (the curves move as results arrive).

**Allocation.** Maximise ``sum_i R_i(s_i)`` subject to ``sum_i s_i = budget`` and
``min_spend <= s_i <= max_spend``: at the optimum every funded ad set has the same marginal return
``lambda`` (or sits at a bound), so ``s_i = b_i ln(a_i / (b_i lambda))`` clipped to the bounds, and
``lambda`` is found by bisection so the spends add up to the budget. Ad sets whose first unit returns
less than ``min_return`` (e.g. 1.0: a unit of money must bring back a unit of value) get the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketloop.errors import InputError


@dataclass(frozen=True)
class Curve:
    ad_set: str
    a: float  # ceiling of the incremental return per period
    b: float  # spend scale (63 % of the ceiling)
    observations: int

    def value(self, spend: np.ndarray | float) -> np.ndarray:
        return self.a * (1.0 - np.exp(-np.asarray(spend, dtype=float) / self.b))

    def marginal(self, spend: np.ndarray | float) -> np.ndarray:
        return (self.a / self.b) * np.exp(-np.asarray(spend, dtype=float) / self.b)


def _fit(spend: np.ndarray, value: np.ndarray, prior: tuple[float, float] | None, weight: float) -> tuple[float, float]:
    from scipy.optimize import least_squares

    scale_s = max(float(np.mean(spend)), 1e-6)
    scale_v = max(float(np.max(np.abs(value))), 1e-6)

    def residuals(theta: np.ndarray) -> np.ndarray:
        a, b = np.exp(theta)
        fit = (a * (1 - np.exp(-spend / b)) - value) / scale_v
        if prior is None:
            return fit
        pa, pb = prior
        at = np.array([scale_s])
        anchor = (a * (1 - np.exp(-at / b)) - pa * (1 - np.exp(-at / pb))) / scale_v
        return np.concatenate([fit, np.sqrt(weight) * anchor])

    start = np.log([max(scale_v * 2, 1e-6), scale_s * 2]) if prior is None else np.log(prior)
    result = least_squares(residuals, start, method="trf")
    a, b = np.exp(result.x)
    return float(a), float(b)


class BudgetAllocator:
    """Response curves per ad set, re-estimated from results, and the budget split they imply."""

    def __init__(self, prior_weight: float = 1.0, min_return: float = 0.0) -> None:
        self.prior_weight = prior_weight
        self.min_return = min_return

    def fit(self, results: pd.DataFrame) -> BudgetAllocator:
        """``results``: ad_set, spend, value (incremental value), one row per ad set and period."""
        missing = {"ad_set", "spend", "value"} - set(results.columns)
        if missing:
            raise InputError(
                f"results: missing column(s) {', '.join(sorted(missing))}",
                field="results",
                value=sorted(missing),
                hint="One row per ad set and period: ad_set, spend, value.",
            )
        bad = results[(results["spend"] < 0) | ~np.isfinite(results["spend"]) | ~np.isfinite(results["value"])]
        if len(bad):
            raise InputError(
                f"results: spend must be >= 0 and values finite (row {int(bad.index[0])}: spend {bad['spend'].iloc[0]!r})",
                field="spend",
                value=bad["spend"].iloc[0],
                hint="Remove or correct the row.",
            )
        self.results_ = results[["ad_set", "spend", "value"]].astype({"ad_set": str}).reset_index(drop=True)
        data = self.results_[self.results_["spend"] > 0]
        if data.empty:
            raise InputError(
                "results: no period with spend > 0", field="spend", hint="Spend something first, or seed the curves."
            )
        pooled = _fit(data["spend"].to_numpy(float), data["value"].to_numpy(float), None, 0.0)
        self.pooled_ = pooled
        self.curves_ = {}
        for ad_set, part in self.results_.groupby("ad_set"):
            part = part[part["spend"] > 0]
            if part.empty:
                a, b = pooled
            else:
                a, b = _fit(part["spend"].to_numpy(float), part["value"].to_numpy(float), pooled, self.prior_weight)
            self.curves_[str(ad_set)] = Curve(str(ad_set), a, b, int(len(part)))
        return self

    def update(self, new_results: pd.DataFrame) -> BudgetAllocator:
        """A new allocator fitted on the results so far plus ``new_results`` (this one is left as it was)."""
        both = pd.concat([self.results_, new_results[["ad_set", "spend", "value"]]], ignore_index=True)
        return BudgetAllocator(prior_weight=self.prior_weight, min_return=self.min_return).fit(both)

    def allocate(self, budget: float, min_spend: float = 0.0, max_spend: float | None = None) -> pd.DataFrame:
        """ad_set, spend, predicted value and marginal return at that spend, for a budget per period."""
        if not np.isfinite(budget) or budget <= 0:
            raise InputError(
                f"budget: expected a positive amount, got {budget!r}", field="budget", value=budget, hint="e.g. 1000"
            )
        curves = list(self.curves_.values())
        n = len(curves)
        if min_spend * n > budget:
            raise InputError(
                f"min_spend: {n} ad sets x {min_spend} exceeds the budget {budget}",
                field="min_spend",
                value=min_spend,
                hint="Lower the minimum or raise the budget.",
            )
        hi_cap = np.full(n, np.inf if max_spend is None else float(max_spend))
        a = np.array([c.a for c in curves])
        b = np.array([c.b for c in curves])
        lo = np.full(n, float(min_spend))
        worth = (a / b) > self.min_return
        cap = np.where(worth, hi_cap, lo)

        def spends(lam: float) -> np.ndarray:
            s = b * np.log(np.maximum(a / (b * lam), 1e-300))
            return np.clip(np.where(s > 0, s, 0.0), lo, cap)

        if spends(1e-12).sum() <= budget:  # every curve saturates (or hits its cap) below the budget
            s = spends(1e-12)
        else:
            low, high = 1e-12, float(np.max(a / b)) + 1.0
            for _ in range(200):
                mid = np.sqrt(low * high)
                if spends(mid).sum() > budget:
                    low = mid
                else:
                    high = mid
            s = spends(high)
            s = s + (budget - s.sum()) * (s > lo) / max(1, int((s > lo).sum()))  # exact total
        return pd.DataFrame(
            {
                "ad_set": [c.ad_set for c in curves],
                "spend": s,
                "predicted_value": [float(c.value(x)) for c, x in zip(curves, s, strict=True)],
                "marginal_return": [float(c.marginal(x)) for c, x in zip(curves, s, strict=True)],
                "a": a,
                "b": b,
                "observations": [c.observations for c in curves],
            }
        )
