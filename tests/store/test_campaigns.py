"""The campaign repository (``marketloop.store.campaigns``): round trip on every backend, the status
machine change by change, and bad audiences refused before anything is written."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import time_machine

from marketloop.errors import ConflictError, InputError, NotFoundError
from marketloop.store import open_store
from marketloop.store.campaigns import (
    CampaignPlan,
    GroupPlan,
    Interval,
    Offer,
    Variant,
    action_change,
    allowed_actions,
    audience_by_variant,
    audience_customers,
    audience_sizes,
    launched_campaigns,
    list_plans,
    load_audience,
    load_campaign,
    load_plan,
    load_status,
    outbox_counts,
    record_campaign,
    save_plan,
    set_status,
)

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # whole seconds: MySQL keeps no fractions
T1 = T0 + dt.timedelta(hours=2)
GOAL = {"name": "Spring", "objective": "incremental_profit", "discounts": [0.0, 0.1]}


def make_plan(campaign_id: str = "cmp-1", name: str = "Spring win-back") -> CampaignPlan:
    return CampaignPlan(
        campaign_id=campaign_id,
        name=name,
        objective="incremental_profit",
        created_at=dt.datetime(2026, 3, 1, 8, 0),
        send_at=dt.datetime(2026, 3, 3, 9, 0),
        window_days=10,
        holdout_fraction=0.2,
        variants=[
            Variant(name="plain", subject="New in"),
            Variant(name="ten_off", offer=Offer(discount=0.1, code_prefix="TEN"), channel="sms"),
        ],
        groups=[
            GroupPlan(group="lapsing", included=True, customers=3, variant="ten_off", reason="pays"),
            GroupPlan(group="loyal", included=False, customers=9, reason="would buy anyway"),
        ],
        predictions={"reach": Interval(mean=3.0, low=2.0, high=3.0)},
        rationale="Lapsing customers answer a discount.",
    )


def make_audience(ids: list[str] = ["c2", "c1", "c3"]) -> pd.DataFrame:  # noqa: B006 - never mutated
    return pd.DataFrame(
        {
            "customer_id": ids,
            "group_name": "lapsing",
            "variant": ["plain", "ten_off", "ten_off"][: len(ids)],
            "channel": ["email", "sms", "sms"][: len(ids)],
            "discount": [0.0, 0.1, 0.1][: len(ids)],
            "predicted_uplift": [0.01, 0.02, None][: len(ids)],
            "predicted_profit": [1.5, -0.5, 2.0][: len(ids)],
            "products_json": ['["p1", "p2"]', None, "[]"][: len(ids)],
            "ignored": "extra columns are not stored",
        }
    )


# ------------------------------------------------------------------------------------- round trip
@pytest.mark.backend
def test_round_trip_replace_and_history(any_store_url: str) -> None:
    plan = make_plan()
    with open_store(any_store_url) as store, time_machine.travel(T0, tick=False):
        assert save_plan(store, plan, make_audience(), goal=GOAL) == "cmp-1"

        campaign = load_campaign(store, "cmp-1")
        assert (campaign.campaign_id, campaign.name, campaign.status) == ("cmp-1", "Spring win-back", "planned")
        assert campaign.created_at == campaign.updated_at == T0.replace(tzinfo=None)
        assert campaign.goal == GOAL and campaign.plan == plan and load_plan(store, "cmp-1") == plan
        assert load_status(store, "cmp-1") == "planned"

        audience = load_audience(store, "cmp-1")
        assert audience["customer_id"].tolist() == ["c1", "c2", "c3"]  # by customer id
        assert "ignored" not in audience.columns
        row = audience.set_index("customer_id").loc["c2"]
        assert (row.campaign_id, row.group_name, row.variant, row.channel) == ("cmp-1", "lapsing", "plain", "email")
        assert row.discount == 0.0 and row.predicted_uplift == pytest.approx(0.01)
        assert row.predicted_profit == pytest.approx(1.5) and json.loads(row.products_json) == ["p1", "p2"]
        assert pd.isna(audience.set_index("customer_id").loc["c3", "predicted_uplift"])
        assert pd.isna(audience.set_index("customer_id").loc["c1", "products_json"])
        assert audience_by_variant(store, "cmp-1") == {"plain": 1, "ten_off": 2}
        assert audience_sizes(store, ["cmp-1", "nope"]) == {"cmp-1": 3} and audience_sizes(store, []) == {}
        assert audience_customers(store) == {"c1", "c2", "c3"}
        assert outbox_counts(store, "cmp-1") == dict.fromkeys(
            ("waiting", "queued", "sending", "sent", "skipped", "dead", "holdout"), 0
        )
        assert launched_campaigns(store) == []

    # a planned campaign's plan is replaced as a whole: new plan, goal and audience, the first created_at
    with open_store(any_store_url) as store, time_machine.travel(T1, tick=False):
        renamed = make_plan(name="Spring win-back, second draft")
        save_plan(store, renamed, make_audience(["c4", "c5"]))
        campaign = load_campaign(store, "cmp-1")
        assert campaign.plan == renamed and campaign.goal is None and campaign.name == "Spring win-back, second draft"
        assert (campaign.created_at, campaign.updated_at) == (T0.replace(tzinfo=None), T1.replace(tzinfo=None))
        assert load_audience(store, "cmp-1")["customer_id"].tolist() == ["c4", "c5"]

        # once approved, it can no longer be replaced, and the refused save writes nothing
        assert set_status(store, "cmp-1", "approved") == "planned"
        with pytest.raises(ConflictError, match="'cmp-1' is approved; its plan can no longer be replaced"):
            save_plan(store, make_plan(name="Third draft"), make_audience())
        assert load_plan(store, "cmp-1") == renamed
        assert load_audience(store, "cmp-1")["customer_id"].tolist() == ["c4", "c5"]

        # an exploration round: a campaign without a plan, recorded in the caller's transaction
        with store.begin() as conn:
            record_campaign(conn, "explore-0", "Exploration round", status="completed", goal={"arms": ["email-0"]})
        with pytest.raises(ConflictError, match="'explore-0' already exists"), store.begin() as conn:
            record_campaign(conn, "explore-0", "Exploration round", status="completed")
        explore = load_campaign(store, "explore-0")
        assert (explore.status, explore.plan, explore.goal) == ("completed", None, {"arms": ["email-0"]})
        with pytest.raises(NotFoundError, match="'explore-0' has no plan"):
            load_plan(store, "explore-0")
        assert [c.campaign_id for c in launched_campaigns(store)] == ["explore-0"]
        assert [c.campaign_id for c in launched_campaigns(store, ["cmp-1"])] == []

        save_plan(store, make_plan("cmp-2"), make_audience(["c9"]))
        total, page = list_plans(store)
        assert total == 2 and [c.campaign_id for c in page] == ["cmp-2", "cmp-1"]  # newest first, plans only
        total, page = list_plans(store, status="approved")
        assert total == 1 and [c.campaign_id for c in page] == ["cmp-1"]
        total, page = list_plans(store, limit=1, offset=1)
        assert total == 2 and [c.campaign_id for c in page] == ["cmp-1"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: load_campaign(s, "nope"), "campaign 'nope' not found: no campaign has this id"),
        (lambda s: load_plan(s, "nope"), "campaign 'nope' not found: no planned campaign has this id"),
        (lambda s: load_status(s, "nope"), "campaign 'nope' not found"),
        (lambda s: set_status(s, "nope", "approved"), "campaign 'nope' not found"),
    ],
)
def test_unknown_campaigns_are_not_found(store, call, message: str) -> None:
    with pytest.raises(NotFoundError, match=re.escape(message)) as caught:
        call(store)
    assert caught.value.hint == "Plan one with: marketloop campaign plan GOAL.toml"
    save_plan(store, make_plan(), make_audience())
    with pytest.raises(NotFoundError) as caught:
        call(store)
    assert caught.value.hint == "Recent plans: cmp-1"


# ----------------------------------------------------------------------------------- status machine
#: the allowed changes, written out (not read from the module's table)
ALLOWED = {
    ("planned", "approved"),
    ("planned", "cancelled"),
    ("approved", "running"),
    ("approved", "cancelled"),
    ("running", "paused"),
    ("running", "completed"),
    ("paused", "running"),
    ("paused", "cancelled"),
}
STATUSES = ("planned", "approved", "running", "paused", "completed", "cancelled")


@pytest.fixture(scope="module")
def machine_store(tmp_path_factory: pytest.TempPathFactory):
    store = open_store(f"duckdb:///{tmp_path_factory.mktemp('machine') / 'm.duckdb'}")
    yield store
    store.close()


@pytest.mark.parametrize(("old", "new"), list(itertools.product(STATUSES, STATUSES)))
def test_every_status_change_is_allowed_or_refused(machine_store, old: str, new: str) -> None:
    campaign_id = f"{old}-{new}"
    with machine_store.begin() as conn:
        record_campaign(conn, campaign_id, "machine", status=old)
    if old == new:
        assert set_status(machine_store, campaign_id, new) == old  # already there: nothing to do
    elif (old, new) in ALLOWED:
        assert set_status(machine_store, campaign_id, new) == old
    else:
        with pytest.raises(ConflictError, match=f"'{campaign_id}' is {old}; it cannot become {new}") as caught:
            set_status(machine_store, campaign_id, new)
        allowed = ", ".join(sorted(n for o, n in ALLOWED if o == old)) or "nothing (final)"
        assert caught.value.hint == f"From {old} it can become: {allowed}."
    assert load_status(machine_store, campaign_id) == (new if old == new or (old, new) in ALLOWED else old)


def test_set_status_refuses_an_unknown_status(machine_store) -> None:
    with machine_store.begin() as conn:
        record_campaign(conn, "typo", "machine", status="running")
    with pytest.raises(ConflictError, match="'typo' is running; it cannot become runing"):
        set_status(machine_store, "typo", "runing")
    with pytest.raises(InputError, match="status: expected one of planned, approved, .* got 'done'"):
        with machine_store.begin() as conn:
            record_campaign(conn, "bad", "machine", status="done")
    with pytest.raises(NotFoundError):
        load_status(machine_store, "bad")


def test_set_status_inside_the_callers_transaction(store) -> None:
    with store.begin() as conn:
        record_campaign(conn, "x", "in one transaction", status="approved")
        assert set_status(store, "x", "running", conn=conn) == "approved"
    assert load_status(store, "x") == "running"
    with pytest.raises(ZeroDivisionError), store.begin() as conn:
        assert set_status(store, "x", "paused", conn=conn) == "running"
        _ = 1 / 0  # the caller's transaction fails: the change goes with it
    assert load_status(store, "x") == "running"
    with pytest.raises(NotFoundError, match="'y' not found"), store.begin() as conn:
        set_status(store, "y", "paused", conn=conn)


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        ("planned", ["approve"]),
        ("approved", ["launch"]),
        ("running", ["pause"]),
        ("paused", ["resume"]),
        ("completed", []),
        ("cancelled", []),
    ],
)
def test_allowed_actions(status: str, actions: list[str]) -> None:
    assert allowed_actions(status) == actions


@pytest.mark.parametrize(
    ("action", "change"),
    [
        ("approve", ("planned", "approved")),
        ("launch", ("approved", "running")),
        ("pause", ("running", "paused")),
        ("resume", ("paused", "running")),
    ],
)
def test_action_change(action: str, change: tuple[str, str]) -> None:
    assert action_change(action) == change


def test_unknown_action() -> None:
    with pytest.raises(InputError, match="action: expected one of approve, launch, pause, resume, got 'cancel'"):
        action_change("cancel")


# ------------------------------------------------------------------------------------ bad audiences
def _set(column: str, position: int, value: object):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype({column: object})
        frame.loc[position, column] = value
        return frame

    return change


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda f: f.drop(columns=["discount", "channel"]), "audience", "missing column(s) channel, discount"),
        (lambda f: f.to_dict("records"), "audience", "expected a table (pandas DataFrame), got list"),
        (_set("customer_id", 1, None), "customer_id", "1 row(s) with no value in column customer_id (position 1)"),
        (_set("variant", 0, None), "variant", "1 row(s) with no value in column variant (position 0)"),
        (
            _set("customer_id", 2, "c2"),
            "customer_id",
            "1 row(s) with a customer listed twice in column customer_id (position 2): 'c2'",
        ),
        (
            _set("variant", 2, "twenty_off"),
            "variant",
            "1 row(s) with a variant not in the plan in column variant (position 2): 'twenty_off'",
        ),
        (
            _set("channel", 0, "fax"),
            "channel",
            "1 row(s) with an unknown channel in column channel (position 0): 'fax'",
        ),
        (_set("discount", 1, 1.5), "discount", "1 row(s) with a discount outside 0 <= d < 1 in column discount"),
        (_set("discount", 1, "ten"), "discount", "in column discount (position 1): 'ten'"),
        (lambda f: f.assign(campaign_id="cmp-other"), "campaign_id", "3 row(s) with another campaign's id"),
        (_set("group_name", 0, "g" * 129), "group_name", "1 row(s) with more than 128 characters in column group_name"),
        (_set("customer_id", 0, "c" * 65), "customer_id", "more than 64 characters in column customer_id"),
        (_set("predicted_uplift", 0, "high"), "predicted_uplift", "a value that is not a number"),
        (_set("products_json", 0, "p1,p2"), "products_json", "a value that is not a JSON list"),
    ],
)
def test_bad_audience_is_refused_and_nothing_written(store, change, field: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        save_plan(store, make_plan(), change(make_audience()))
    assert caught.value.field == field and caught.value.hint
    assert store.count("campaigns") == 0 and store.count("campaign_audience") == 0

    # replacing a stored plan with a bad audience keeps the stored one
    save_plan(store, make_plan(), make_audience(["c7"]))
    with pytest.raises(InputError, match=re.escape(message)):
        save_plan(store, make_plan(name="Second draft"), change(make_audience()))
    assert load_plan(store, "cmp-1").name == "Spring win-back"
    assert load_audience(store, "cmp-1")["customer_id"].tolist() == ["c7"]


def test_bad_plan_id_is_refused(store) -> None:
    with pytest.raises(InputError, match="campaign_id: expected 1 to 64 characters") as caught:
        save_plan(store, make_plan("x" * 65), make_audience())
    assert caught.value.field == "campaign_id" and store.count("campaigns") == 0


def test_an_empty_audience_is_a_plan_without_customers(store) -> None:
    save_plan(store, make_plan(), make_audience([]).iloc[0:0])
    assert load_audience(store, "cmp-1").empty and audience_by_variant(store, "cmp-1") == {}


# ----------------------------------------------------------------------------------- one repository
def test_only_the_repository_touches_the_campaign_tables() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "marketloop"
    home = {src / "store" / "campaigns" / "repository.py", src / "store" / "schema.py", src / "store" / "migrations.py"}
    pattern = re.compile(r"schema\.campaigns\b|schema\.campaign_audience\b|\b(FROM|INTO|UPDATE)\s+campaign", re.I)
    users = sorted(
        str(p.relative_to(src)) for p in src.rglob("*.py") if p not in home and pattern.search(p.read_text())
    )
    assert users == []
