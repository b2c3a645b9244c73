from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from marketloop.delivery.channels import ChannelRouter
from marketloop.delivery.checks import SendPolicy, quiet_until
from marketloop.delivery.dispatcher import Dispatcher, SimClock
from marketloop.delivery.outbox import launch
from marketloop.store import schema
from marketloop.store.campaigns import outbox_counts

from .conftest import T0, make_plan, seed_customers

SECRET = "a-very-secret-key-123"


def smtp_router(port: int) -> ChannelRouter:
    return ChannelRouter({"email": {"provider": "smtp", "host": "127.0.0.1", "port": port}})


def test_smtp_delivers_each_treated_customer_once(store, smtp_server):
    ids = seed_customers(store, 20)
    make_plan(store, "c1", ids, holdout=0.25)
    launch(store, "c1")
    result = Dispatcher(store, smtp_router(smtp_server.port), clock=SimClock(T0)).run("c1")
    assert result.sent == 15 and result.stopped == "completed"
    assert len(smtp_server.raw) == len(smtp_server.unique) == 15
    holdout = set(store.read_sql("select customer_id from sends where is_holdout")["customer_id"])
    assert not holdout & {rcpt.split("@")[0] for _, rcpt in smtp_server.raw}
    # a second run sends nothing
    set_running = schema.campaigns.update().values(status="running")
    with store.begin() as c:
        c.execute(set_running)
    assert Dispatcher(store, smtp_router(smtp_server.port), clock=SimClock(T0)).run("c1").sent == 0
    assert len(smtp_server.raw) == 15


def test_consent_revoked_after_planning_is_not_sent(store, smtp_server):
    ids = seed_customers(store, 10)
    make_plan(store, "c1", ids, holdout=0.1)
    launch(store, "c1")
    queued = store.read_sql("select customer_id from sends where status = 'queued' order by customer_id")[
        "customer_id"
    ].tolist()
    revoked = queued[:3]
    with store.begin() as c:
        c.execute(schema.consents.update().where(schema.consents.c.customer_id.in_(revoked)).values(status="revoked"))
    result = Dispatcher(store, smtp_router(smtp_server.port), clock=SimClock(T0)).run("c1")
    received = {rcpt.split("@")[0] for _, rcpt in smtp_server.raw}
    assert not received & set(revoked) and len(received) == len(queued) - 3
    assert result.reasons == {"no email consent": 3}
    skipped = store.read_sql("select customer_id, last_error from sends where status = 'skipped'")
    assert set(skipped["customer_id"]) == set(revoked) and set(skipped["last_error"]) == {"no email consent"}


def test_suppressed_and_capped_customers_are_skipped(store, smtp_server):
    ids = seed_customers(store, 6)
    with store.begin() as c:
        c.execute(
            schema.suppressions.insert().values(customer_id=ids[0], channel="*", reason="complaint", created_at=T0)
        )
    policy = SendPolicy(global_cap=1, global_cap_days=7)
    make_plan(store, "first", ids[1:3], holdout=0.0)
    launch(store, "first", force_no_holdout=True)
    Dispatcher(store, smtp_router(smtp_server.port), policy=policy, clock=SimClock(T0)).run("first")
    make_plan(store, "second", ids, holdout=0.0)
    launch(store, "second", force_no_holdout=True)
    result = Dispatcher(
        store, smtp_router(smtp_server.port), policy=policy, clock=SimClock(T0 + dt.timedelta(days=1))
    ).run("second")
    assert result.reasons == {"suppressed": 1, "frequency cap (1 per 7 days)": 2}
    assert result.sent == 3


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        (dt.datetime(2025, 6, 2, 12), "UTC", None),
        (dt.datetime(2025, 6, 2, 22), "UTC", dt.datetime(2025, 6, 3, 8)),
        (dt.datetime(2025, 6, 2, 3), "UTC", dt.datetime(2025, 6, 2, 8)),
        (
            dt.datetime(2025, 6, 2, 12),
            "Asia/Tokyo",
            dt.datetime(2025, 6, 2, 23),
        ),  # 21:00 in Tokyo -> 08:00 local = 23:00 UTC
        (dt.datetime(2025, 6, 2, 12), "Not/AZone", None),  # unknown zones fall back to the default (UTC)
    ],
)
def test_quiet_hours_in_the_customers_zone(now, zone, expected):
    assert quiet_until(now, zone, SendPolicy()) == expected


def test_quiet_hours_defer_then_deliver(store, smtp_server):
    ids = seed_customers(store, 4, time_zone="Asia/Tokyo")
    make_plan(store, "c1", ids, holdout=0.0)
    launch(store, "c1", force_no_holdout=True)
    clock = SimClock(T0)  # 21:00 in Tokyo
    result = Dispatcher(store, smtp_router(smtp_server.port), clock=clock).run("c1")
    assert result.deferred == 4 and result.sent == 4
    sent_at = store.read_sql("select distinct sent_at from sends")["sent_at"].tolist()
    assert [t.to_pydatetime() for t in sent_at] == [dt.datetime(2025, 6, 2, 23)]


def test_webhook_that_fails_then_recovers_receives_each_message_once(store, webhook_server):
    receiver = webhook_server(SECRET, fail_first=7)
    ids = seed_customers(store, 5, channels=("sms",))
    make_plan(store, "c1", ids, holdout=0.0, channel="sms")
    launch(store, "c1", force_no_holdout=True)
    router = ChannelRouter({"sms": {"provider": "webhook", "url": receiver.url, "secret": SECRET}})
    clock = SimClock(T0)
    result = Dispatcher(store, router, policy=SendPolicy(max_attempts=5, backoff_s=30), clock=clock).run("c1")
    assert result.sent == 5 and result.retried == 7 and result.dead == 0
    keys = store.read_sql("select idempotency_key from sends")["idempotency_key"]
    assert sorted(receiver.accepted) == sorted(keys) and receiver.bad_signatures == 0
    assert clock.now() > T0  # time moved through the backoff, nobody slept
    attempts = store.read_sql("select attempts from sends")["attempts"]
    assert attempts.sum() == 12


def test_webhook_dead_letters_after_n_failures_with_exponential_backoff(store, webhook_server):
    receiver = webhook_server(SECRET, always_fail=True)
    ids = seed_customers(store, 1, channels=("push",))
    make_plan(store, "c1", ids, holdout=0.0, channel="push")
    launch(store, "c1", force_no_holdout=True)
    router = ChannelRouter({"push": {"provider": "webhook", "url": receiver.url, "secret": SECRET}})
    clock = SimClock(T0)
    result = Dispatcher(store, router, policy=SendPolicy(max_attempts=4, backoff_s=10), clock=clock).run("c1")
    assert (result.dead, result.retried, receiver.requests) == (1, 3, 4)
    assert clock.now() == T0 + dt.timedelta(seconds=10 + 20 + 40)
    row = store.read_sql("select status, attempts, last_error from sends").iloc[0]
    assert row["status"] == "dead" and row["attempts"] == 4 and "503" in row["last_error"]
    assert outbox_counts(store, "c1")["dead"] == 1


def test_pause_stops_the_dispatcher(store, smtp_server):
    from marketloop.store.campaigns import set_status

    ids = seed_customers(store, 5)
    make_plan(store, "c1", ids, holdout=0.0)
    launch(store, "c1", force_no_holdout=True)
    set_status(store, "c1", "paused")
    assert Dispatcher(store, smtp_router(smtp_server.port), clock=SimClock(T0)).run("c1").stopped == "paused"
    assert smtp_server.raw == []
    assert (
        store.scalar(sa.select(sa.func.count()).select_from(schema.sends).where(schema.sends.c.status == "queued")) == 5
    )


def test_one_dispatcher_per_campaign(store, smtp_server):
    from marketloop.delivery import lock
    from marketloop.errors import InputError

    ids = seed_customers(store, 3)
    make_plan(store, "c1", ids, holdout=0.0)
    launch(store, "c1", force_no_holdout=True)
    lock.acquire(store, "c1", "other-host:1:x", lease_s=60)
    with pytest.raises(InputError, match="is being dispatched by other-host:1:x"):
        Dispatcher(store, smtp_router(smtp_server.port), clock=SimClock(T0)).run("c1")
    assert smtp_server.raw == []
    # a lapsed lease is taken without asking
    with store.begin() as c:
        c.execute(schema.dispatch_locks.update().values(heartbeat_at=dt.datetime(2000, 1, 1)))
    assert Dispatcher(store, smtp_router(smtp_server.port), clock=SimClock(T0)).run("c1").sent == 3
    assert store.count("dispatch_locks") == 0  # released at the end


def test_takeover_and_lost_lock(store, smtp_server):
    from marketloop.delivery import lock

    ids = seed_customers(store, 3)
    make_plan(store, "c1", ids, holdout=0.0)
    launch(store, "c1", force_no_holdout=True)
    lock.acquire(store, "c1", "crashed:1:x", lease_s=60)
    assert Dispatcher(store, smtp_router(smtp_server.port), clock=SimClock(T0), takeover=True).run("c1").sent == 3
    lock.acquire(store, "c2", "me", lease_s=60)
    lock.acquire(store, "c2", "someone-else", lease_s=60, takeover=True)
    assert not lock.heartbeat(store, "c2", "me")


def test_campaign_paused_as_the_last_batch_ends_is_not_completed(store, smtp_server, monkeypatch):
    from marketloop.delivery import dispatcher
    from marketloop.store.campaigns import set_status

    ids = seed_customers(store, 3)
    make_plan(store, "c1", ids, holdout=0.0)
    launch(store, "c1", force_no_holdout=True)

    def pause_first(store_, campaign_id, new, **kw):
        set_status(store_, campaign_id, "paused")
        return set_status(store_, campaign_id, new, **kw)

    monkeypatch.setattr(dispatcher, "set_status", pause_first)
    result = Dispatcher(store, smtp_router(smtp_server.port), clock=SimClock(T0)).run("c1")
    assert result.sent == 3 and result.stopped == "paused"
    assert store.scalar("select status from campaigns where campaign_id = 'c1'") == "paused"
