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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketloop.strategy.goal import Goal
from marketloop.strategy.history import arm_name
from marketloop.strategy.response import OfferResponseModel

#: Cost of one message by channel (money in the store's currency); a goal may override it.
SEND_COST = {"email": 0.002, "sms": 0.04, "push": 0.0005, "webhook": 0.0}


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

    def score(self, objective: str) -> np.ndarray:
        if objective == "incremental_profit":
            return self.incremental_profit
        if objective == "incremental_revenue":
            return self.incremental_revenue
        return self.tau  # conversions, reactivations


def predict_arms(model: OfferResponseModel, X: np.ndarray, features: pd.DataFrame, basket: np.ndarray,
                 cost_ratio: np.ndarray, goal: Goal, demand_factor: float = 1.0) -> list[ArmPrediction]:
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
            out.append(ArmPrediction(
                arm=arm, channel=channel, discount=d, allowed=consent & (d <= max_discount + 1e-9), consent=consent, components=components, tau=tau, p0=p0, p1=p1,
                opens=opens, clicks=clicks,
                incremental_revenue=p1 * basket * (1 - d) - p0 * basket,
                incremental_profit=tau * basket * (1 - cost_ratio) - p1 * basket * d - send_cost,
                spend=p1 * basket * d + send_cost, send_cost=send_cost,
            ))
    return out


def choose(arms: list[ArmPrediction], objective: str, budget: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best allowed arm per customer (index into ``arms``, -1 = none) and why customers were left out.

    Returns (choice, best_any, reason) where ``best_any`` is the best arm ignoring positivity (for
    explanations) and ``reason`` is '' (included), 'not_worth_it', 'no_consent' (for every goal channel),
    'not_allowed' (every discount breaks the margin floor / maximum) or 'budget'.
    """
    n = len(arms[0].tau)
    scores = np.full((len(arms), n), -np.inf)
    for k, a in enumerate(arms):
        # a hair's preference for smaller discounts breaks ties
        scores[k] = np.where(a.allowed, a.score(objective) - 1e-9 * a.discount, -np.inf)
    best_any = scores.argmax(axis=0)
    best_score = scores.max(axis=0)
    reason = np.where(np.isinf(best_score), "not_allowed", np.where(best_score > 0, "", "not_worth_it")).astype(object)
    reachable = np.any(np.stack([a.consent for a in arms]), axis=0)
    reason[~reachable] = "no_consent"
    choice = np.where(reason == "", best_any, -1)
    if budget is not None:
        spend = np.array([arms[k].spend[i] if k >= 0 else 0.0 for i, k in enumerate(choice)])
        value = np.where(choice >= 0, best_score, -np.inf)
        order = np.argsort(-(value / np.maximum(spend, 1e-6)), kind="mergesort")
        cum = np.cumsum(np.where(choice[order] >= 0, spend[order], 0.0))
        over = order[(cum > budget) & (choice[order] >= 0)]
        choice[over] = -1
        reason[over] = "budget"
    return choice, best_any, reason
