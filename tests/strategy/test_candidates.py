"""Offer choice per customer: best allowed arm, consent, margin floor and budget."""

from __future__ import annotations

import numpy as np

from marketloop.strategy.candidates import ArmPrediction, choose


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
