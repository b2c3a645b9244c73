"""Offer choice per customer: best allowed arm, consent, margin floor, budget, and uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from marketloop.strategy.candidates import ArmPrediction, choose, difference_variance


def _arm(name: str, d: float, profit: list[float], consent: list[bool], allowed: list[bool] | None = None, spend: float = 1.0) -> ArmPrediction:
    n = len(profit)
    z = np.zeros(n)
    c = np.array(consent)
    return ArmPrediction(arm=name, channel="email", discount=d, allowed=c & np.array(allowed if allowed is not None else [True] * n),
                         consent=c, components=[], tau=np.array(profit) / 10, p0=z, p1=z, opens=z, clicks=z,
                         incremental_revenue=np.array(profit), incremental_profit=np.array(profit), spend=np.full(n, spend), send_cost=0.0)


def test_choice_reasons() -> None:
    consent = [True, True, True, False, True]
    plain = _arm("email-0", 0.0, [1.0, 2.0, -1.0, 5.0, 1.0], consent)
    disc = _arm("email-20", 0.2, [3.0, 1.0, -0.5, 6.0, 1.0], consent, allowed=[True, True, True, True, True])
    choice, _, reason = choose([plain, disc], "incremental_profit", None)
    assert choice.tolist() == [1, 0, -1, -1, 0]  # ties go to the smaller discount
    assert reason.tolist() == ["", "", "not_worth_it", "no_consent", ""]


def test_margin_floor_blocks_discount_only() -> None:
    plain = _arm("email-0", 0.0, [1.0], [True])
    disc = _arm("email-20", 0.2, [3.0], [True], allowed=[False])
    choice, _, reason = choose([plain, disc], "incremental_profit", None)
    assert choice.tolist() == [0] and reason.tolist() == [""]


def test_budget_takes_best_value_per_money_first() -> None:
    plain = _arm("email-0", 0.0, [1.0, 5.0, 3.0], [True, True, True], spend=2.0)
    choice, _, reason = choose([plain], "incremental_profit", budget=4.0)
    assert choice.tolist() == [-1, 0, 0]
    assert reason.tolist() == ["budget", "", ""]


def _uncertain(name: str, d: float, profit: list[float], parts: dict[str, list[float]]) -> ArmPrediction:
    """An arm whose profit is its uplift x 1 (weight 1) with the given per-customer variance of each part."""
    arm = _arm(name, d, profit, [True] * len(profit))
    arm.components = [(key, np.zeros(len(profit))) for key in parts]
    arm.tau_variances = [np.array(v) for v in parts.values()]
    arm.tau_weights = {"incremental_profit": np.ones(len(profit))}
    return arm


def test_customers_leave_the_pooled_offer_only_on_clear_evidence() -> None:
    # plain pays on average (mean 0.5), so it is everyone's default. Customer 0 and 1: the discount
    # looks better by 0.5, but only customer 0's estimate is sure enough (sd 0.1 vs 1.0). Customers
    # 2 and 3: the plain message looks harmful (-0.3), sure for customer 2 only.
    plain = _uncertain("email-0", 0.0, [1.0, 1.0, -0.3, -0.3], {"email-0": [0.01, 0.01, 0.0001, 1.0]})
    disc = _uncertain("email-20", 0.2, [1.5, 1.5, -1.0, -1.0], {"email-0": [0.01, 0.01, 0.0001, 1.0], "email-20|email-0": [0.01, 1.0, 0.01, 0.01]})
    choice, best_any, reason = choose([plain, disc], "incremental_profit", None)
    assert best_any.tolist() == [1, 1, 0, 0]
    assert choice.tolist() == [1, 0, -1, 0]
    assert reason.tolist() == ["", "", "not_worth_it", ""]
    # the shared base part cancels in the difference discount - plain; against no message it counts
    assert difference_variance(disc, plain, "incremental_profit").tolist() == pytest.approx([0.01, 1.0, 0.01, 0.01])
    assert difference_variance(None, plain, "incremental_profit").tolist() == pytest.approx([0.01, 0.01, 0.0001, 1.0])


def test_nobody_is_sent_without_clear_evidence_when_no_offer_pays_on_average() -> None:
    plain = _uncertain("email-0", 0.0, [-1.0, -1.0, 0.5, 0.5], {"email-0": [0.01, 0.01, 0.01, 1.0]})
    choice, _, reason = choose([plain], "incremental_profit", None)
    assert choice.tolist() == [-1, -1, 0, -1]
    assert reason.tolist() == ["not_worth_it", "not_worth_it", "", "not_worth_it"]
