"""The simulator evaluation's building blocks: coupled realised outcomes and the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketloop.errors import InputError
from marketloop.sim import Message, SimWorld
from marketloop.strategy.history import RandomisedHistory, draw_exploration
from marketloop.strategy.simulation import evaluate_campaigns, exploration_check, oracle_assignment, realised, summarise


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
    run = {
        "policies": {
            n: {"incremental_profit": v, "incremental_conversions": 10.0, "expected_incremental_conversions": 12.0}
            for n, v in {
                "planner": 300.0,
                "everyone_20": -50.0,
                "top20_propensity_20": 100.0,
                "random30_20": 20.0,
                "oracle": 400.0,
                "everyone_no_discount": 200.0,
            }.items()
        },
        "predicted": {
            "incremental_conversions": {"mean": 11.0, "low": 5.0, "high": 15.0},
            "incremental_profit": {"mean": 280.0},
        },
        "exploration": {"incremental_profit": 5.0},
        "prediction_check": {"estimate": 10.5, "truth": 12.5},
    }
    s = summarise([run])
    assert s["best_naive_policy"] == "top20_propensity_20"
    assert s["planner_vs_best_naive"] == 3.0
    assert s["planner_vs_oracle"] == 0.75
    assert s["prediction_error_conversions"] == pytest.approx(0.1)
    assert s["interval_covers_realised"] == 1
    assert s["prediction_error_vs_expected"] == pytest.approx(11 / 12 - 1, abs=1e-3)
    parts = s["prediction_error_parts"]
    assert parts == {
        "model": 0.5,
        "exploration_sampling": -2.0,
        "explored_vs_planned_customers": 0.5,
        "campaign_luck": 2.0,
    }
    assert sum(parts.values()) == pytest.approx(11.0 - 10.0)  # the parts add up to predicted - realised


def test_exploration_check_is_the_difference_in_conversion_rates(world: SimWorld) -> None:
    """Known answer: reachable e-mail customers convert at 3/4, reachable controls at 1/4, so the
    plain e-mail's reading is half an order per planned customer; unreachable rows do not count."""
    ids = np.asarray(world.customer_ids, dtype=object)
    send_at = world.now
    plain = Message(channel="email", send_at=send_at)
    reach = world.true_uplift(ids, plain)["delivered"].to_numpy()
    yes, no = ids[reach][:8], ids[~reach][:2]
    rows = pd.DataFrame(
        {
            "customer_id": [*yes, *no],
            "arm": ["email-0"] * 4 + ["control"] * 4 + ["email-0", "control"],
            "converted": [1, 1, 1, 0, 1, 0, 0, 0, 0, 1],
        }
    )
    history = RandomisedHistory(rows=rows, sent_at=send_at, campaigns=[])
    plan = pd.DataFrame({"customer_id": ids[:10], "channel": "email", "discount": 0.0})
    check = exploration_check(world, history, plan)
    assert check["estimate"] == pytest.approx(10 * (0.75 - 0.25))
    truth = world.true_uplift(yes, plain)["uplift"]
    assert check["truth"] == pytest.approx(10 * truth.mean(), abs=0.01)
    # an offer the history never tried adds nothing to either reading
    assert exploration_check(world, history, plan.assign(discount=0.2)) == {"estimate": 0.0, "truth": 0.0}


def test_draw_exploration_is_reproducible_and_randomised(world: SimWorld) -> None:
    arms = [("email", 0.0), ("email", 0.2)]
    first = draw_exploration(world, world.customer_ids, arms, fraction=0.5, seed=3)
    again = draw_exploration(world, world.customer_ids, arms, fraction=0.5, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert 0.45 < len(first) / len(world.customer_ids) < 0.55
    assert set(first["arm"]) == {"control", "email-0", "email-20"}
    assert not first.loc[first["arm"] == "control", "delivered"].any()  # the control is never messaged


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match="--seeds"):
        evaluate_campaigns(0, 10_000)
    with pytest.raises(InputError, match="--customers"):
        evaluate_campaigns(1, 100)
    for share in (0.0, 1.5):  # refused before any store is generated
        with pytest.raises(InputError, match="--explore-fraction: expected a share in \\(0, 1\\]") as caught:
            evaluate_campaigns(1, 10_000, explore_fraction=share)
        assert caught.value.field == "explore_fraction" and caught.value.value == share


def test_the_default_round_explores_every_customer(world: SimWorld) -> None:
    drawn = draw_exploration(world, world.customer_ids, [("email", 0.0)], seed=3)
    assert sorted(drawn["customer_id"]) == sorted(world.customer_ids)
    assert 0.4 < (drawn["arm"] == "control").mean() < 0.6  # one arm and the control, at even odds
