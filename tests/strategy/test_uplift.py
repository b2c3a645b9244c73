"""Meta-learners recover a known uplift; metrics match hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from marketloop.errors import InputError
from marketloop.strategy.metrics import qini_auc_score, uplift_at_k, uplift_auc_score, uplift_curve
from marketloop.strategy.uplift import LEARNERS, make_learner


def synthetic(n: int = 8_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two features; uplift +0.20 where x0 > 0.5, -0.10 elsewhere; baseline 0.3 (+0.1 where x1 > 0.5)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 3))
    t = rng.integers(0, 2, n)
    tau = np.where(X[:, 0] > 0.5, 0.2, -0.1)
    p0 = 0.3 + 0.1 * (X[:, 1] > 0.5)
    y = (rng.random(n) < p0 + t * tau).astype(float)
    return X, t, y, tau


@pytest.mark.parametrize("name", list(LEARNERS))
def test_learners_recover_known_uplift(name: str) -> None:
    X, t, y, tau = synthetic()
    model = make_learner(name, random_state=0).fit(X, t, y)
    Xt, _, _, tau_t = synthetic(4_000, seed=1)
    pred = model.predict(Xt)
    high, low = tau_t > 0, tau_t < 0
    assert pred[high].mean() == pytest.approx(0.2, abs=0.05)
    assert pred[low].mean() == pytest.approx(-0.1, abs=0.05)
    assert np.corrcoef(pred, tau_t)[0, 1] > 0.8
    assert model.get_params()["random_state"] == 0


def test_learner_rejects_bad_input() -> None:
    X, t, y, _ = synthetic(200)
    with pytest.raises(InputError, match="treatment: expected 0"):
        make_learner("t_learner").fit(X, t + 1, y)
    with pytest.raises(InputError, match="same length"):
        make_learner("t_learner").fit(X[:10], t, y)
    with pytest.raises(InputError, match="at least 20 treated"):
        make_learner("t_learner").fit(X, np.zeros_like(t), y)
    with pytest.raises(InputError, match="learner: expected one of"):
        make_learner("s_learner")


def test_uplift_at_k_overall() -> None:
    # top 50 % = rows 0-3 by score: treated 1,1 responders (rate 1), control 0,1 (rate 0.5) -> 0.5
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    t = np.array([1, 1, 0, 0, 1, 0, 1, 0])
    score = np.array([8, 7, 6, 5, 4, 3, 2, 1], dtype=float)
    assert uplift_at_k(y, score, t, 0.5) == pytest.approx(0.5)
    with pytest.raises(InputError, match="k: expected a share"):
        uplift_at_k(y, score, t, 0.0)


def test_curve_areas_perfect_and_random() -> None:
    X, t, y, tau = synthetic(20_000, seed=3)
    rng = np.random.default_rng(0)
    perfect_qini = qini_auc_score(y, y * t - y * (1 - t), t)
    assert perfect_qini == pytest.approx(1.0)
    assert abs(qini_auc_score(y, rng.random(len(y)), t)) < 0.05
    assert qini_auc_score(y, tau, t) > 0.1
    assert uplift_auc_score(y, tau, t) > 0.05
    x, curve = uplift_curve(y, tau, t)
    # at the end the uplift curve is (treated rate - control rate) x n
    assert curve[-1] == pytest.approx((y[t == 1].mean() - y[t == 0].mean()) * len(y))


def test_offer_model_learns_on_reachable_customers() -> None:
    """Half the test's customers have no consent: their message is never delivered (no effect). The
    effect on the reachable half (+0.20) is what a plan can get, and what the model must predict."""
    from marketloop.strategy.response import OfferResponseModel

    rng = np.random.default_rng(4)
    n = 12_000
    X = rng.random((n, 3))
    consent = rng.random(n) < 0.5
    arm = np.where(rng.random(n) < 0.5, "email-0", "control").astype(object)
    p = 0.2 + 0.2 * ((arm == "email-0") & consent)
    y = (rng.random(n) < p).astype(float)
    model = OfferResponseModel(random_state=0).fit(X, arm, y, reachable={"email": consent})
    pred = model.predict(X[:2_000], "email-0")
    assert pred.mean() == pytest.approx(0.2, abs=0.03)
    var = model.predicted_variance("email-0", model.components(X[:2_000], "email-0")[0][1])
    assert 0 < np.sqrt(var).mean() < 0.03  # about the standard error of a difference of two 3,000-customer means
    diluted = OfferResponseModel(random_state=0).fit(X, arm, y).predict(X[:2_000], "email-0")
    assert diluted.mean() == pytest.approx(0.1, abs=0.03)
