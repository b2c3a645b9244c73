"""Candidate strategies: per customer and offer arm, the predicted effect under the goal's rules.

For arm ``a`` (channel, discount ``d``) and customer ``i`` with untreated purchase probability
``p0`` (corrected for the calendar), calibrated uplift ``tau``, expected order value ``b`` and cost
ratio ``c``:

- ``p1 = p0 + tau``; incremental revenue ``p1 b (1 - d) - p0 b``;
- incremental profit ``tau b (1 - c) - p1 b d - send_cost``: what the extra orders earn, less the
  discount given on every order the message is followed by (including those that would have
  happened anyway), less the message;
- spend (what counts against the budget): ``p1 b d + send_cost``.

An arm is allowed for a customer only with consent for its channel and a discount within the
margin floor (``(1 - d - c) / (1 - d) >= floor``) and the goal's maximum.

Each score is linear in the arm's uplift (profit: ``tau b (1 - c - d) - p0 b d - send_cost``), and
the uplift is a sum of calibrated parts ``a + b x score`` whose (a, b) are estimated from a few
thousand randomised customers. :func:`choose` therefore starts from one offer for the audience as a
whole (whose estimate pools everyone's data) and gives a customer something else, or nothing, only
where that customer's predicted advantage is clear of its own uncertainty. Otherwise the plan would
chase noise: with thin data the per-customer best of three noisy offers is mostly the one whose
error happens to be largest (a winner's curse). The audience's offer is chosen the same way: the
cheapest offer that pays is the reference, and a costlier one (a discount) replaces it only when its
advantage over the whole audience is clear of the uncertainty of that mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketloop.strategy.goal import Goal
from marketloop.strategy.history import arm_name
from marketloop.strategy.response import OfferResponseModel

#: Cost of one message by channel (money in the store's currency); a goal may override it.
SEND_COST = {"email": 0.002, "sms": 0.04, "push": 0.0005, "webhook": 0.0}
#: A customer leaves the audience-wide best offer (for another, or for nothing) only when the
#: advantage is at least this many standard errors: one-sided 95 % (each customer has several
#: alternatives, so a looser bar lets noise through; picked over 1.28 on simulator seeds 10-14).
#: The same bar lets a costlier offer replace the cheapest paying one as the audience's offer.
DEVIATION_Z = 1.6449


@dataclass
class ArmPrediction:
    arm: str
    channel: str
    discount: float
    allowed: np.ndarray
    consent: np.ndarray
    components: list[tuple[str, np.ndarray]]  # (calibration key, raw score): tau = sum of calibrated parts
    tau: np.ndarray
    p0: np.ndarray
    p1: np.ndarray
    opens: np.ndarray
    clicks: np.ndarray
    incremental_revenue: np.ndarray
    incremental_profit: np.ndarray
    spend: np.ndarray
    send_cost: float
    # per customer: the variance of each calibrated part of tau (aligned with components), and what
    # one unit of uplift is worth under each objective (the score's slope in tau)
    tau_variances: list[np.ndarray] = field(default_factory=list)
    tau_weights: dict[str, np.ndarray] = field(default_factory=dict)
    # the (intercept, slope) covariance of each calibrated part (aligned with components): the parts'
    # errors are shared by every customer, which the variance of an audience mean must account for
    calibration_covariances: list[np.ndarray] = field(default_factory=list)
    # clear_stock goals: the extra units of the products to clear (uplift x the customer's units of
    # them per order)
    incremental_units: np.ndarray | None = None

    def score(self, objective: str) -> np.ndarray:
        if objective == "clear_stock":
            return self.incremental_units if self.incremental_units is not None else np.zeros(len(self.tau))
        if objective == "incremental_profit":
            return self.incremental_profit
        if objective == "incremental_revenue":
            return self.incremental_revenue
        return self.tau  # conversions, reactivations

    def tau_weight(self, objective: str) -> np.ndarray:
        return self.tau_weights.get(objective, np.ones(len(self.tau)))


def predict_arms(
    model: OfferResponseModel,
    X: np.ndarray,
    features: pd.DataFrame,
    basket: np.ndarray,
    cost_ratio: np.ndarray,
    goal: Goal,
    demand_factor: float = 1.0,
    units_per_order: np.ndarray | None = None,
) -> list[ArmPrediction]:
    p0 = np.clip(model.predict_control(X) * demand_factor, 0.0, 1.0)
    max_discount = np.array([goal.allowed_discount(c) for c in cost_ratio])
    out = []
    for channel in goal.channels:
        consent = features[f"{channel}_ok"].to_numpy() > 0 if f"{channel}_ok" in features else np.ones(len(X), bool)
        for d in sorted(goal.discounts):
            arm = arm_name(channel, d)
            if arm not in model.arms_:
                continue
            components = model.components(X, arm)
            tau = sum(model.calibration_[k][0] + model.calibration_[k][1] * raw for k, raw in components)
            p1 = np.clip(p0 + tau, 0.0, 1.0)
            tau = p1 - p0
            opens, clicks = model.predict_engagement(X, arm)
            send_cost = SEND_COST.get(channel, 0.0)
            weights = {"incremental_profit": basket * (1 - cost_ratio - d), "incremental_revenue": basket * (1 - d)}
            if units_per_order is not None:
                weights["clear_stock"] = units_per_order
            out.append(
                ArmPrediction(
                    arm=arm,
                    channel=channel,
                    discount=d,
                    allowed=consent & (d <= max_discount + 1e-9),
                    consent=consent,
                    components=components,
                    tau=tau,
                    p0=p0,
                    p1=p1,
                    opens=opens,
                    clicks=clicks,
                    incremental_revenue=p1 * basket * (1 - d) - p0 * basket,
                    incremental_profit=tau * basket * (1 - cost_ratio) - p1 * basket * d - send_cost,
                    spend=p1 * basket * d + send_cost,
                    send_cost=send_cost,
                    tau_variances=[model.predicted_variance(key, raw) for key, raw in components],
                    tau_weights=weights,
                    calibration_covariances=[
                        np.asarray(model.calibration_cov_[key], dtype=float) for key, _ in components
                    ],
                    incremental_units=None if units_per_order is None else tau * units_per_order,
                )
            )
    return out


def difference_variance(first: ArmPrediction | None, second: ArmPrediction | None, objective: str) -> np.ndarray:
    """Per customer, the variance of ``score(first) - score(second)`` (None: no message, a sure 0).

    Parts the two arms share (a discount arm's base offer) cancel in the difference; parts from
    different calibrations are taken as independent.
    """
    coef: dict[str, np.ndarray] = {}
    var: dict[str, np.ndarray] = {}
    for arm, sign in ((first, 1.0), (second, -1.0)):
        if arm is None:
            continue
        w = arm.tau_weight(objective)
        for (key, _), v in zip(arm.components, arm.tau_variances, strict=True):
            coef[key] = coef.get(key, 0.0) + sign * w
            var[key] = v
    n = len((first or second).tau)
    return sum((coef[k] ** 2 * var[k] for k in coef), np.zeros(n))


def pooled_difference_variance(
    first: ArmPrediction | None, second: ArmPrediction | None, objective: str, mask: np.ndarray
) -> float:
    """The variance of the mean over ``mask`` of ``score(first) - score(second)`` (None: no message).

    Every customer's uplift comes from the same calibrations ``a + b x raw``, so their errors move
    together and do not average out: the mean's variance is, per calibration, ``m' C m`` with ``C``
    its (a, b) covariance and ``m`` the mean weight and mean weighted raw score it enters with.
    """
    means: dict[str, np.ndarray] = {}
    covariance: dict[str, np.ndarray] = {}
    for arm, sign in ((first, 1.0), (second, -1.0)):
        if arm is None:
            continue
        w = arm.tau_weight(objective)[mask]
        for (key, raw), cov in zip(arm.components, arm.calibration_covariances, strict=True):
            means[key] = means.get(key, np.zeros(2)) + sign * np.array([w.mean(), (w * raw[mask]).mean()])
            covariance[key] = cov
    return float(sum(m @ covariance[k] @ m for k, m in means.items()))


def audience_offers(arms: list[ArmPrediction], objective: str, z: float) -> np.ndarray:
    """The default offer per customer (index into ``arms``, -1 = none): the offer for the audience.

    Among the arms whose mean score over the customers they are allowed for is positive, the one with
    the least mean spend (the plain message before any discount; then the smaller discount) is the
    reference. Another arm goes before it only when its mean advantage over the customers both are
    allowed for exceeds ``z`` standard errors (:func:`pooled_difference_variance`): a discount's cost
    is certain, its extra orders are an estimate. A customer gets the first allowed arm of: those clear winners (best mean
    first), the reference, the other paying arms (best mean first, for customers the reference cannot
    reach). With exact predictions this is the arm with the best mean.
    """
    n = len(arms[0].tau)
    pooled = np.array([a.score(objective)[a.allowed].mean() if a.allowed.any() else -np.inf for a in arms])
    paying = sorted((k for k in range(len(arms)) if pooled[k] > 0), key=lambda k: -pooled[k])
    default = np.full(n, -1)
    if not paying:
        return default
    reference = min(paying, key=lambda k: (arms[k].spend[arms[k].allowed].mean(), arms[k].discount))
    clear = []
    for k in paying:
        both = arms[k].allowed & arms[reference].allowed
        if k == reference or not both.any():
            continue
        advantage = (arms[k].score(objective)[both] - arms[reference].score(objective)[both]).mean()
        if advantage > z * np.sqrt(pooled_difference_variance(arms[k], arms[reference], objective, both)):
            clear.append(k)
    priority = clear + [reference] + [k for k in paying if k != reference and k not in clear]
    for k in reversed(priority):  # the first in priority is written last
        default = np.where(arms[k].allowed, k, default)
    return default


def choose(
    arms: list[ArmPrediction], objective: str, budget: float | None, z: float = DEVIATION_Z
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offer per customer (index into ``arms``, -1 = none) and why customers were left out.

    Each customer starts from the audience's offer (:func:`audience_offers`; nothing when no arm's
    mean score is positive). They get another arm, or nothing, only where its advantage over that
    default exceeds ``z`` standard errors of that customer's prediction (:func:`difference_variance`);
    among such clear improvements the best score wins. With exact predictions (no variance) this is
    the plain best arm per customer.

    Returns (choice, best_any, reason) where ``best_any`` is the best arm ignoring positivity (for
    explanations) and ``reason`` is '' (included), 'not_worth_it', 'no_consent' (for every goal channel),
    'not_allowed' (every discount breaks the margin floor / maximum) or 'budget'.
    """
    n = len(arms[0].tau)
    rows = np.arange(n)
    scores = np.full((len(arms), n), -np.inf)
    for k, a in enumerate(arms):
        # a hair's preference for smaller discounts breaks ties
        scores[k] = np.where(a.allowed, a.score(objective) - 1e-9 * a.discount, -np.inf)
    best_any = scores.argmax(axis=0)
    default = audience_offers(arms, objective, z)
    default_score = np.where(default >= 0, scores[np.maximum(default, 0), rows], 0.0)
    choice = default.copy()
    best = default_score.copy()
    for k in range(-1, len(arms)):
        score = scores[k] if k >= 0 else np.zeros(n)
        sd = np.zeros(n)
        for j in np.unique(default):
            at = default == j
            if j != k:
                var = difference_variance(arms[k] if k >= 0 else None, arms[j] if j >= 0 else None, objective)
                sd[at] = np.sqrt(var[at])
        clear = (score - default_score > z * sd) & (score > best) & (choice != k)
        choice = np.where(clear, k, choice)
        best = np.where(clear, score, best)
    reason = np.where(np.isinf(scores.max(axis=0)), "not_allowed", np.where(choice >= 0, "", "not_worth_it")).astype(
        object
    )
    reachable = np.any(np.stack([a.consent for a in arms]), axis=0)
    reason[~reachable] = "no_consent"
    choice = np.where(reason == "", choice, -1)
    if budget is not None:
        spend = np.array([arms[k].spend[i] if k >= 0 else 0.0 for i, k in enumerate(choice)])
        value = np.where(choice >= 0, best, -np.inf)
        order = np.argsort(-(value / np.maximum(spend, 1e-6)), kind="mergesort")
        cum = np.cumsum(np.where(choice[order] >= 0, spend[order], 0.0))
        over = order[(cum > budget) & (choice[order] >= 0)]
        choice[over] = -1
        reason[over] = "budget"
    return choice, best_any, reason
