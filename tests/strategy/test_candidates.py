"""Offer choice per customer: best allowed arm, consent, margin floor, budget, and uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from marketloop.strategy.candidates import (
    ArmPrediction,
    audience_offers,
    choose,
    difference_variance,
    pooled_difference_variance,
)


def _arm(
    name: str, d: float, profit: list[float], consent: list[bool], allowed: list[bool] | None = None, spend: float = 1.0
) -> ArmPrediction:
    n = len(profit)
    z = np.zeros(n)
    c = np.array(consent)
    return ArmPrediction(
        arm=name,
        channel="email",
        discount=d,
        allowed=c & np.array(allowed if allowed is not None else [True] * n),
        consent=c,
        components=[],
        tau=np.array(profit) / 10,
        p0=z,
        p1=z,
        opens=z,
        clicks=z,
        incremental_revenue=np.array(profit),
        incremental_profit=np.array(profit),
        spend=np.full(n, spend),
        send_cost=0.0,
    )


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
    arm.calibration_covariances = [
        np.array([[np.mean(v), 0.0], [0.0, 0.0]]) for v in parts.values()
    ]  # raw scores are 0
    arm.tau_weights = {"incremental_profit": np.ones(len(profit))}
    return arm


def test_customers_leave_the_pooled_offer_only_on_clear_evidence() -> None:
    # plain pays on average (mean 0.5), so it is everyone's default. Customer 0 and 1: the discount
    # looks better by 0.5, but only customer 0's estimate is sure enough (sd 0.1 vs 1.0). Customers
    # 2 and 3: the plain message looks harmful (-0.3), sure for customer 2 only.
    plain = _uncertain("email-0", 0.0, [1.0, 1.0, -0.3, -0.3], {"email-0": [0.01, 0.01, 0.0001, 1.0]})
    disc = _uncertain(
        "email-20",
        0.2,
        [1.5, 1.5, -1.0, -1.0],
        {"email-0": [0.01, 0.01, 0.0001, 1.0], "email-20|email-0": [0.01, 1.0, 0.01, 0.01]},
    )
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


def _calibrated(
    name: str, d: float, profit: list[float], parts: dict[str, tuple[np.ndarray, np.ndarray]], spend: float
) -> ArmPrediction:
    """An arm whose uplift parts are calibrations ``a + b x raw``: parts maps key -> (raw scores, (a, b) covariance)."""
    arm = _arm(name, d, profit, [True] * len(profit), spend=spend)
    arm.components = [(key, raw) for key, (raw, _) in parts.items()]
    arm.calibration_covariances = [cov for _, cov in parts.values()]
    arm.tau_variances = [cov[0, 0] + 2 * cov[0, 1] * raw + cov[1, 1] * raw**2 for raw, cov in parts.values()]
    arm.tau_weights = {"incremental_profit": np.linspace(0.5, 1.5, len(profit))}
    return arm


def test_pooled_difference_variance_matches_simulated_calibration_errors() -> None:
    # Known answer by simulation: draw every calibration's (a, b) from its covariance, form the mean
    # over the audience of the weighted uplift difference, and compare its variance with the formula.
    rng = np.random.default_rng(0)
    n = 40
    raw_base, raw_disc = rng.normal(size=n), rng.normal(size=n)
    base_cov, disc_cov = np.array([[0.04, -0.01], [-0.01, 0.02]]), np.array([[0.09, 0.02], [0.02, 0.05]])
    plain = _calibrated("email-0", 0.0, [0.0] * n, {"email-0": (raw_base, base_cov)}, spend=0.0)
    disc = _calibrated(
        "email-10",
        0.1,
        [0.0] * n,
        {"email-0": (raw_base, base_cov), "email-10|email-0": (raw_disc, disc_cov)},
        spend=1.0,
    )
    disc.tau_weights = {"incremental_profit": np.linspace(0.2, 1.0, n)}  # a discount earns less per extra order
    mask = np.arange(n) % 3 != 0
    draws = 200_000
    a_b = {
        k: rng.multivariate_normal([0.0, 0.0], cov, size=draws) for k, cov in (("base", base_cov), ("disc", disc_cov))
    }
    w_plain, w_disc = plain.tau_weights["incremental_profit"][mask], disc.tau_weights["incremental_profit"][mask]
    tau_base = a_b["base"][:, [0]] + a_b["base"][:, [1]] * raw_base[mask]
    tau_disc = tau_base + a_b["disc"][:, [0]] + a_b["disc"][:, [1]] * raw_disc[mask]
    simulated = (w_disc * tau_disc - w_plain * tau_base).mean(axis=1).var()
    assert pooled_difference_variance(disc, plain, "incremental_profit", mask) == pytest.approx(simulated, rel=0.02)
    # against no message, the whole of the arm's uplift counts
    alone = (w_plain * tau_base).mean(axis=1).var()
    assert pooled_difference_variance(None, plain, "incremental_profit", mask) == pytest.approx(alone, rel=0.02)


def test_the_audience_keeps_the_plain_message_unless_a_discount_is_clearly_better() -> None:
    n = 4
    zeros = np.zeros(n)
    base = (zeros, np.array([[0.01, 0.0], [0.0, 0.0]]))

    def discount(profit: float, variance: float) -> ArmPrediction:
        return _calibrated(
            "email-10",
            0.1,
            [profit] * n,
            {"email-0": base, "email-10|email-0": (zeros, np.array([[variance, 0.0], [0.0, 0.0]]))},
            spend=1.0,
        )

    plain = _calibrated("email-0", 0.0, [1.0] * n, {"email-0": base}, spend=0.01)
    plain.tau_weights = {"incremental_profit": np.ones(n)}
    # the discount looks 0.2 better for everyone; its own part has sd 0.3 (weights average 1): not clear
    noisy = discount(1.2, 0.09)
    noisy.tau_weights = {"incremental_profit": np.ones(n)}
    assert audience_offers([plain, noisy], "incremental_profit", z=1.6449).tolist() == [0] * n
    choice, _, _ = choose([plain, noisy], "incremental_profit", None)
    assert choice.tolist() == [0] * n  # and no customer is sure enough to leave it either
    # the same 0.2 with sd 0.1: clear, the discount becomes the audience's offer
    sure = discount(1.2, 0.01)
    sure.tau_weights = {"incremental_profit": np.ones(n)}
    assert audience_offers([plain, sure], "incremental_profit", z=1.6449).tolist() == [1] * n
    # exact predictions: the best mean wins, whatever its cost
    assert audience_offers([plain, noisy], "incremental_profit", z=0.0).tolist() == [1] * n


def test_the_audience_reference_is_the_cheapest_paying_offer() -> None:
    # the cheaper offer loses money on average, so the reference is the costlier one that pays
    n = 3
    cheap = _arm("email-0", 0.0, [-1.0, -1.0, -1.0], [True] * n, spend=0.01)
    dear = _arm("email-20", 0.2, [0.5, 0.5, 0.5], [True] * n, spend=2.0)
    assert audience_offers([cheap, dear], "incremental_profit", z=1.6449).tolist() == [1] * n
    # a customer the reference cannot reach gets the next paying offer
    sms = _arm("sms-0", 0.0, [0.2, 0.2, 0.2], [True] * n, spend=0.04)
    plain = _arm("email-0", 0.0, [1.0, 1.0, 1.0], [True, True, False], spend=0.002)
    assert audience_offers([plain, sms], "incremental_profit", z=1.6449).tolist() == [0, 0, 1]
    # no offer pays on average: nobody has a default
    assert audience_offers([cheap], "incremental_profit", z=1.6449).tolist() == [-1] * n
