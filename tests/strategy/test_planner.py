"""The planner on a population whose right targeting is known by construction."""

from __future__ import annotations

import pandas as pd
import pytest

from marketloop.errors import InputError, NotFoundError
from marketloop.store.campaigns import load_audience, load_campaign, save_plan
from marketloop.store.engine import open_store
from marketloop.strategy.goal import parse_goal
from marketloop.strategy.history import read_history
from marketloop.strategy.planner import fit_response_model, plan_campaign

GOAL = {"name": "Known targeting", "discounts": [0.0, 0.2], "holdout_fraction": 0.1}


@pytest.fixture(scope="module")
def model(known_store_url: tuple[str, dict[str, str]]):
    with open_store(known_store_url[0]) as store:
        return fit_response_model(store, read_history(store))


@pytest.fixture(scope="module")
def planned(known_store_url: tuple[str, dict[str, str]], model):
    url, kinds = known_store_url
    with open_store(url) as store:
        result = plan_campaign(store, parse_goal(GOAL), model=model, n_boot=100)
    return result, kinds


def _shares(result, kinds: dict[str, str]) -> pd.DataFrame:
    dec = result.decisions.assign(true_kind=result.decisions["customer_id"].map(kinds))
    return dec.groupby("true_kind").agg(
        included=("included", "mean"), discounted=("arm", lambda a: (a == "email-20").mean())
    )


def test_right_targeting(planned) -> None:
    result, kinds = planned
    shares = _shares(result, kinds)
    assert shares.loc["persuadable", "included"] > 0.95
    assert shares.loc["sleeping_dog", "included"] < 0.05, "sleeping dogs must be left out"
    assert shares.loc["sure_thing", "discounted"] < 0.02, "sure things must not get a discount"
    assert shares.loc["lost_cause", "discounted"] < 0.02
    # persuadables get the plain e-mail: 20 % off adds 5 points but gives 20 % away on 30 % of orders
    assert (
        result.decisions.loc[result.decisions["customer_id"].map(kinds) == "persuadable", "arm"] == "email-0"
    ).mean() > 0.9


def test_predictions_and_explanations(planned) -> None:
    result, kinds = planned
    plan = result.plan
    inc = plan.predictions["incremental_conversions"]
    # persuadables (+20 points) x 1,000 x 90 % sent = about 180 extra orders
    assert 130 < inc.mean < 230
    assert inc.low < inc.mean < inc.high
    assert plan.predictions["incremental_profit"].mean > 0
    put_off = [g for g in plan.groups if g.group.startswith("put off")]
    assert put_off and not any(g.included for g in put_off)
    assert "lower purchases" in put_off[0].reason
    assert all(g.reason for g in plan.groups)
    assert "incremental orders" in plan.rationale and "t-learner" in plan.rationale
    assert sum(g.customers for g in plan.groups) == len(kinds)


def test_budget_limits_spend(known_store_url, model) -> None:
    url, _ = known_store_url
    with open_store(url) as store:
        result = plan_campaign(store, parse_goal({**GOAL, "budget": 0.5}), model=model, n_boot=20)
    assert result.plan.predictions["cost"].mean <= 0.5 / 0.9 + 1e-6
    assert any("budget" in g.group for g in result.plan.groups)


def test_store_round_trip(known_store_url, planned) -> None:
    url, _ = known_store_url
    result, _ = planned
    with open_store(url) as store:
        cid = save_plan(store, result.plan, result.audience, goal=result.goal)
        campaign, audience = load_campaign(store, cid, require_plan=True), load_audience(store, cid)
        with pytest.raises(NotFoundError, match="no planned campaign"):
            load_campaign(store, "cmp-nope", require_plan=True)
    assert campaign.status == "planned"
    assert campaign.plan == result.plan and campaign.goal == result.goal.model_dump(mode="json")
    assert len(audience) == len(result.audience)
    assert set(audience["variant"]) <= {"email-0", "email-20"}


def test_no_history_and_no_eligible(tmp_path) -> None:
    with open_store(f"duckdb:///{tmp_path / 'empty.duckdb'}") as store:
        with pytest.raises(InputError, match="no randomised campaign history"):
            plan_campaign(store, parse_goal(GOAL))


def test_eligibility_filters(known_store_url, model) -> None:
    url, kinds = known_store_url
    with open_store(url) as store:
        result = plan_campaign(store, parse_goal({**GOAL, "eligible": {"min_orders": 1}}), model=model, n_boot=20)
        assert {kinds[c] for c in result.decisions["customer_id"]} == {"sure_thing", "sleeping_dog"}
        with pytest.raises(InputError, match="no customer matches"):
            plan_campaign(store, parse_goal({**GOAL, "eligible": {"min_orders": 50}}), model=model)


def test_featured_products(planned) -> None:
    import json

    result, _ = planned
    featured = result.audience["products_json"].map(json.loads)
    assert (featured.map(len) > 0).all()
    assert featured.map(lambda ids: ids == ["P1"]).all()  # the known store sells one product
