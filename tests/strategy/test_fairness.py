"""Fairness of a plan's offers: offer rate, discount depth and predicted benefit by group with disparity
ratios; the guard blocks a planted unfair plan (409 through the API, an alert raised), flags it in flag
mode, and lets a fair plan through; small groups and unknowns are shown, not judged."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from marketloop.config import load_settings
from marketloop.errors import InputError
from marketloop.ops.alerts import list_alerts
from marketloop.ops.approval import approve_campaign
from marketloop.store import open_store, schema
from marketloop.store.bulk import insert_frame
from marketloop.store.campaigns import CampaignPlan, GroupPlan, Offer, Variant, load_status, save_plan
from marketloop.strategy.fairness import FairnessBlocked, age_band, plan_fairness


def _customers(n: int = 1200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "country": rng.choice(["United Kingdom", "Germany", "France"], n, p=[0.5, 0.3, 0.2]),
            "birth_year": rng.integers(1950, 2004, n),
            "is_guest": False,
        }
    )


def _plan(store, cid: str, customers: pd.DataFrame, offered: pd.Series, discount: pd.Series) -> None:
    plan = CampaignPlan(
        campaign_id=cid,
        name="test",
        objective="incremental_profit",
        created_at=dt.datetime(2026, 1, 1),
        variants=[
            Variant(name="email-10", offer=Offer(discount=0.1)),
            Variant(name="email-20", offer=Offer(discount=0.2)),
        ],
        groups=[GroupPlan(group="all", included=True, customers=int(offered.sum()), reason="test")],
    )
    chosen = customers[offered.to_numpy()]
    d = discount[offered.to_numpy()].to_numpy()
    audience = pd.DataFrame(
        {
            "customer_id": chosen["customer_id"],
            "group_name": "all",
            "variant": np.where(d >= 0.2, "email-20", "email-10"),
            "channel": "email",
            "discount": d,
            "predicted_uplift": 0.01,
        }
    )
    save_plan(store, plan, audience)


@pytest.fixture
def store(tmp_path):
    s = open_store(f"duckdb:///{tmp_path / 'fair.duckdb'}")
    customers = _customers()
    with s.begin() as conn:
        insert_frame(conn, schema.customers, customers)
    rng = np.random.default_rng(9)
    # a fair plan: a random half, the same discounts everywhere
    _plan(s, "fair", customers, pd.Series(rng.random(len(customers)) < 0.5), pd.Series(np.full(len(customers), 0.1)))
    # a planted unfair plan: Germany gets under a third of the offers the others get, and only the shallow discount
    german = customers["country"] == "Germany"
    offered = pd.Series(np.where(german, rng.random(len(customers)) < 0.15, rng.random(len(customers)) < 0.5))
    _plan(s, "unfair", customers, offered, pd.Series(np.where(german, 0.1, 0.2)))
    yield s, customers.assign(offered=offered.to_numpy())
    s.close()


def test_the_report_gives_rates_depths_benefits_and_ratios_by_group(store) -> None:
    s, customers = store
    report = plan_fairness(s, "unfair", attributes=["country", "age_band"], year=2026)
    country = report.attributes["country"]
    by = {g["group"]: g for g in country["groups"]}
    german = customers["country"] == "Germany"
    assert by["Germany"]["customers"] == int(german.sum())
    rates = customers.groupby("country")["offered"].mean()
    assert by["Germany"]["offer_rate"] == pytest.approx(rates["Germany"], abs=1e-6)
    assert by["United Kingdom"]["offer_rate"] == pytest.approx(rates["United Kingdom"], abs=1e-6)
    assert 0.08 < rates["Germany"] < 0.22 and 0.4 < rates["United Kingdom"] < 0.6  # as planted
    assert by["Germany"]["discount_depth"] == pytest.approx(0.1) and by["France"]["discount_depth"] == pytest.approx(
        0.2
    )
    ratios = country["disparity_ratios"]
    assert ratios["offer_rate"] == pytest.approx(rates.min() / rates.max(), abs=1e-5) and ratios[
        "discount_depth"
    ] == pytest.approx(0.5)
    assert ratios["predicted_benefit"] == pytest.approx(1.0)
    assert {(v.attribute, v.metric, v.group) for v in report.violations if v.attribute == "country"} == {
        ("country", "offer_rate", "Germany"),
        ("country", "discount_depth", "Germany"),
    }
    assert set(report.attributes["age_band"]["disparity_ratios"]) == {
        "offer_rate",
        "discount_depth",
        "predicted_benefit",
    }
    fair = plan_fairness(s, "fair", attributes=["country", "age_band"], year=2026)
    assert fair.fair and fair.attributes["country"]["disparity_ratios"]["offer_rate"] > 0.8


def test_the_guard_blocks_a_planted_unfair_plan_and_lets_a_fair_one_through(store, tmp_path) -> None:
    s, _ = store
    settings = load_settings(db_url=str(s.url), fairness_guard="block")
    with pytest.raises(FairnessBlocked, match="Germany") as err:
        approve_campaign(s, settings, "unfair")
    assert "offer rate" in err.value.message
    assert load_status(s, "unfair") == "planned"  # nothing changed
    (alert,) = list_alerts(s)
    assert alert["kind"] == "fairness" and alert["severity"] == "critical" and alert["subject"] == "campaign:unfair"
    old, report = approve_campaign(s, settings, "fair")
    assert old == "planned" and report["fair"] and load_status(s, "fair") == "approved"


def test_flag_mode_approves_and_alerts(store) -> None:
    s, _ = store
    old, report = approve_campaign(s, load_settings(db_url=str(s.url), fairness_guard="flag"), "unfair")
    assert old == "planned" and not report["fair"]
    assert load_status(s, "unfair") == "approved"
    assert [a["kind"] for a in list_alerts(s)] == ["fairness"]
    off = approve_campaign(s, load_settings(db_url=str(s.url), fairness_guard="off"), "fair")
    assert off == ("planned", None)


def test_small_and_unknown_groups_are_shown_not_judged(store) -> None:
    s, customers = store
    with s.begin() as conn:
        insert_frame(
            conn,
            schema.customers,
            pd.DataFrame({"customer_id": ["z1", "z2"], "country": ["Malta", None], "is_guest": False}),
        )
    report = plan_fairness(s, "fair", attributes=["country"], min_group=30, year=2026)
    groups = {g["group"]: g for g in report.attributes["country"]["groups"]}
    assert groups["Malta"]["customers"] == 1 and groups["Malta"]["offer_rate_ratio"] is None
    assert groups["unknown"]["customers"] == 1 and report.fair


def test_age_bands() -> None:
    bands = age_band(pd.Series([2005, 1990, 1960, None, 1950]), 2026)
    assert bands.tolist() == ["under 25", "35-44", "65+", "unknown", "65+"]


@pytest.mark.parametrize("attribute", ["email_hash", "shoe_size"])
def test_attributes_that_cannot_group_fail_clearly(store, attribute) -> None:
    s, _ = store
    with pytest.raises(InputError, match=f"fairness_attributes: {attribute} cannot group customers"):
        plan_fairness(s, "fair", attributes=[attribute])
