"""The simulator evaluation's building blocks: coupled realised outcomes and the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketloop.errors import InputError
from marketloop.sim import SimWorld
from marketloop.strategy.simulation import evaluate_campaigns, oracle_assignment, realised, summarise


@pytest.fixture(scope="module")
def world() -> SimWorld:
    return SimWorld.build(customers=4_000, products=120, days=60, seed=5)


def test_oracle_beats_every_fixed_policy_in_expectation(world: SimWorld) -> None:
    ids = np.asarray(world.customer_ids, dtype=object)
    send_at = world.now
    oracle = realised(world, oracle_assignment(world, ids, send_at), send_at, seed=1)
    for d in (0.0, 0.1, 0.2):
        fixed = realised(world, pd.DataFrame({"customer_id": ids, "channel": "email", "discount": d}), send_at, seed=1)
        assert oracle["expected_incremental_profit"] >= fixed["expected_incremental_profit"]
    assert oracle["expected_incremental_profit"] > 0


def test_nobody_treated_changes_nothing(world: SimWorld) -> None:
    empty = pd.DataFrame({"customer_id": [], "channel": [], "discount": []})
    assert realised(world, empty, world.now, seed=1)["incremental_profit"] == 0


def test_summary_ratios() -> None:
    run = {"policies": {n: {"incremental_profit": v, "incremental_conversions": 10.0} for n, v in
                        {"planner": 300.0, "everyone_20": -50.0, "top20_propensity_20": 100.0, "random30_20": 20.0,
                         "oracle": 400.0, "everyone_no_discount": 200.0}.items()},
           "predicted": {"incremental_conversions": {"mean": 11.0, "low": 5.0, "high": 15.0}, "incremental_profit": {"mean": 280.0}},
           "exploration": {"incremental_profit": 5.0}}
    s = summarise([run])
    assert s["best_naive_policy"] == "top20_propensity_20"
    assert s["planner_vs_best_naive"] == 3.0
    assert s["planner_vs_oracle"] == 0.75
    assert s["prediction_error_conversions"] == pytest.approx(0.1)
    assert s["interval_covers_realised"] == 1


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match="--seeds"):
        evaluate_campaigns(0, 10_000)
    with pytest.raises(InputError, match="--customers"):
        evaluate_campaigns(1, 100)
