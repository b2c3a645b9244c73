from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from marketloop.errors import InputError
from marketloop.learn.bandits import LinUCB, ThompsonSampling
from marketloop.learn.ope import DM, DR, IPW, SNIPW


def _run_ts(policy: ThompsonSampling, means, rounds: int, batch: int, revenue: bool = False) -> ThompsonSampling:
    rng = np.random.default_rng(1)
    for _ in range(rounds):
        arms = policy.select(batch)
        buy = rng.random(batch) < np.asarray(means)[arms]
        policy.update(arms, buy * (rng.normal(100, 10, batch) if revenue else 1.0))
    return policy


def test_thompson_binary_finds_the_best_variant_keeps_the_floor_and_stops():
    policy = _run_ts(ThompsonSampling(3, floor=0.15), [0.02, 0.05, 0.03], rounds=40, batch=250)
    alloc = policy.allocation()
    assert alloc.argmax() == 1 and alloc.min() >= 0.05 - 1e-12
    assert policy.should_stop()


def test_thompson_revenue_prefers_more_revenue_not_more_conversions():
    policy = ThompsonSampling(2, reward="revenue", floor=0.1)
    rng = np.random.default_rng(2)
    for _ in range(40):
        arms = policy.select(300)
        conv = rng.random(300) < np.where(arms == 0, 0.05, 0.04)
        spend = np.where(arms == 0, 50.0, 100.0)
        policy.update(arms, conv * spend)
    assert policy.allocation().argmax() == 1


def test_linucb_learns_context_dependent_best_arm():
    rng = np.random.default_rng(0)
    policy = LinUCB(2, 2, alpha=0.5)
    for _ in range(60):
        X = np.column_stack([np.ones(20), rng.integers(0, 2, 20)])
        arms = policy.select(X)
        p = np.where(arms == X[:, 1], 0.6, 0.1)
        policy.update(X, arms, rng.random(20) < p)
    assert policy.select(np.array([[1.0, 0.0], [1.0, 1.0]])).tolist() == [0, 1]


def test_off_policy_estimators_recover_a_known_value():
    rng = np.random.default_rng(0)
    n, k = 20_000, 4
    true_ctr = np.array([0.1, 0.2, 0.3, 0.4])
    actions = rng.integers(0, k, n)
    pscore = np.full(n, 1 / k)
    rewards = (rng.random(n) < true_ctr[actions]).astype(float)
    target = np.tile([0.1, 0.1, 0.2, 0.6], (n, 1))
    truth = float(target[0] @ true_ctr)
    q_hat = np.tile(true_ctr + 0.05, (n, 1))  # a biased reward model
    for est in (IPW(), SNIPW(), DR()):
        assert est.estimate(rewards, actions, pscore, target, q_hat) == pytest.approx(truth, abs=0.01), est.name
    assert DM().estimate(rewards, actions, pscore, target, q_hat) == pytest.approx(truth + 0.05)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ThompsonSampling(1), "n_arms: expected an integer >= 2"),
        (lambda: ThompsonSampling(2, reward="clicks"), "reward: expected 'binary' or 'revenue'"),
        (lambda: ThompsonSampling(2, floor=1.0), "floor: expected 0 <= floor < 1"),
        (lambda: ThompsonSampling(2).update([0, 1], [1]), "same length"),
        (lambda: ThompsonSampling(2).update([0, 5], [1, 0]), "arms: expected 0..1"),
        (lambda: ThompsonSampling(2).update([0], [3.0]), "expected 0/1"),
        (lambda: LinUCB(2, 3).select(np.ones((1, 2))), "X: expected 3 features"),
        (
            lambda: IPW().estimate(np.ones(2), np.zeros(2, int), np.zeros(2), np.ones((2, 2))),
            "pscore: expected probabilities",
        ),
        (lambda: DM().estimate(np.ones(2), np.zeros(2, int), np.ones(2), np.ones((2, 2))), "q_hat"),
    ],
)
def test_bad_inputs(call, message):
    with pytest.raises(InputError, match=message):
        call()


def _obd() -> Path:
    root = Path(
        os.environ.get("MARKETLOOP_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data")
    )
    path = root / "open_bandit_zozotown"
    if not path.is_dir():
        pytest.skip(f"Open Bandit Dataset not found at {path}")
    return path


@pytest.mark.realdata
def test_open_bandit_eval_reports_every_estimator():
    from marketloop.learn.obd import evaluate_open_bandit

    result = evaluate_open_bandit(_obd(), campaign="all", repeats=2)
    assert set(result["estimators"]) == {"ipw", "snipw", "dm", "dr"}
    assert result["rows"] == {"random": 10_000, "bts": 10_000} and result["clicks"]["random"] == 38
    assert result["truth"]["bts_relative"] == pytest.approx(42 / 38)
    for row in result["estimators"].values():
        assert row["learned_relative_min"] <= row["learned_relative"] <= row["learned_relative_max"]
        assert 0 <= row["bts_relative_error"] < 1


def test_eval_bandit_cli_bad_folder(tmp_path):
    from typer.testing import CliRunner

    from marketloop.cli.main import app

    res = CliRunner().invoke(app, ["eval", "bandit", "--logs", str(tmp_path), "--json"])
    assert res.exit_code != 0 and "Open Bandit logs not found" in str(res.exception)
