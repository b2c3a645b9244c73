from __future__ import annotations

import pytest

from marketloop.delivery.outbox import draw_holdout, launch
from marketloop.errors import InputError
from marketloop.store.campaigns import outbox_counts

from .conftest import make_plan, seed_customers


def test_launch_writes_every_send_with_a_key_and_a_stratified_holdout(store):
    ids = seed_customers(store, 100)
    make_plan(store, "c1", ids, holdout=0.2, groups=2, variants=("a", "b"))
    summary = launch(store, "c1")
    assert (summary.audience, summary.queued, summary.holdout) == (100, 80, 20)
    sends = store.read_sql("select * from sends where campaign_id = 'c1'")
    assert sends["idempotency_key"].is_unique and len(sends) == 100
    assert sends.groupby(sends["send_id"].map(lambda s: s)).size().max() == 1
    payload = sends["payload_json"].iloc[0]
    assert "We picked these for you" in payload
    # exactly 20 % of each group is held out
    import json

    groups = sends["payload_json"].map(lambda p: json.loads(p)["group"])
    assert sends.groupby(groups)["is_holdout"].sum().tolist() == [10, 10]
    assert outbox_counts(store, "c1")["holdout"] == 20


def test_launch_is_idempotent(store):
    ids = seed_customers(store, 30)
    make_plan(store, "c1", ids)
    first = launch(store, "c1")
    again = launch(store, "c1")
    assert again.queued == again.holdout == 0 and again.already_in_outbox == 30
    assert store.count("sends") == 30 and first.queued + first.holdout == 30


def test_holdout_draw_is_reproducible_and_order_free():
    import pandas as pd

    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(50)], "group_name": "g"})
    a = draw_holdout(frame, 0.1, campaign_id="x")
    b = draw_holdout(frame.iloc[::-1], 0.1, campaign_id="x")
    assert a.sum() == 5 and set(frame.loc[a, "customer_id"]) == set(frame.iloc[::-1].loc[b, "customer_id"])
    assert draw_holdout(frame, 0.1, campaign_id="y").ne(a).any()


@pytest.mark.parametrize(
    ("kwargs", "approve", "message"),
    [
        ({"holdout_fraction": 0.0}, True, "has no holdout"),
        ({"holdout_fraction": 1.5}, True, "holdout fraction: expected 0 <= f < 1"),
        ({}, False, "only an approved campaign can be launched"),
    ],
)
def test_bad_launches_are_refused(store, kwargs, approve, message):
    ids = seed_customers(store, 10)
    make_plan(store, "c1", ids, approve=approve)
    with pytest.raises(InputError, match=message):
        launch(store, "c1", **kwargs)
    assert store.count("sends") == 0


def test_zero_holdout_only_when_forced(store):
    ids = seed_customers(store, 10)
    make_plan(store, "c1", ids, holdout=0.0)
    assert launch(store, "c1", force_no_holdout=True).holdout == 0


def test_status_changes_refuse_disallowed_and_concurrent_changes(store, monkeypatch):
    from marketloop.errors import ConflictError
    from marketloop.store.campaigns import repository as campaigns

    make_plan(store, "c1", seed_customers(store, 4), approve=False)
    with pytest.raises(ConflictError, match="'c1' is planned; it cannot become running"):
        campaigns.set_status(store, "c1", "running")
    assert campaigns.set_status(store, "c1", "approved") == "planned"
    assert campaigns.set_status(store, "c1", "approved") == "approved"  # already there: nothing to do
    # another process cancels it between our read and our write: the conditional update notices
    campaigns.set_status(store, "c1", "cancelled")
    monkeypatch.setattr(campaigns, "load_status", lambda s, cid: "approved")
    with pytest.raises(ConflictError, match="changed status while it was being set to running"):
        campaigns.set_status(store, "c1", "running")
    assert store.scalar("select status from campaigns where campaign_id = 'c1'") == "cancelled"
