"""The monitor: drift against the training window (a shifted feature alerts, the others do not), alert
deduplication, clearing and the signed webhook; freshness and reject rates."""

from __future__ import annotations

import shutil

import pytest

from marketloop.clock import SimClock
from marketloop.config import load_settings
from marketloop.ops.alerts import AlertSink, list_alerts, resolve_alert
from marketloop.ops.monitor import check_drift, check_freshness, records, take_reference
from marketloop.ops.schedule import JobContext
from marketloop.store import open_store
from tests.ops.conftest import day, inject_returns


def _ctx(store, tmp_path, clock, **settings):
    s = load_settings(db_url=str(store.url), secret_file=tmp_path / "pii.key", **settings)
    return JobContext(store, s, clock, AlertSink(store, s, clock))


@pytest.fixture
def store(stationary, tmp_path):
    path = tmp_path / "store.duckdb"
    shutil.copy(stationary, path)
    with open_store(f"duckdb:///{path}") as s:
        yield s


def test_injected_shift_raises_a_drift_alert_for_that_feature_only(store, tmp_path, alert_receiver) -> None:
    url, secret, got = alert_receiver
    clock = SimClock(day(420))
    ctx = _ctx(store, tmp_path, clock, alert_webhook_url=url, alert_webhook_secret=secret)
    take_reference(store, day(390), clock.now())

    calm = check_drift(ctx, as_of=day(420))
    assert calm["drifted"] == []  # a stationary store: nothing moves between the windows
    assert calm["subjects"]["customer_features"]["tested"] is True
    assert list_alerts(store) == [] and got == []

    inject_returns(store)
    shifted = check_drift(ctx, as_of=day(420))
    assert shifted["drifted"] == ["customer_features.returns"]
    rows = {r["feature"]: r for r in shifted["subjects"]["customer_features"]["features"]}
    assert rows["returns"]["psi"] >= 0.2 and rows["returns"]["current_mean"] > rows["returns"]["reference_mean"]
    assert all(not r["drifted"] for name, r in rows.items() if name != "returns")
    alerts = list_alerts(store)
    assert [(a["kind"], a["subject"]) for a in alerts] == [("drift", "customer_features.returns")]
    assert alerts[0]["webhook_status"] == "sent"
    assert len(got) == 1 and got[0]["signed"] and got[0]["body"]["subject"] == "customer_features.returns"

    again = check_drift(ctx, as_of=day(420))  # the condition persists: one alert, counted, no second post
    assert again["drifted"] == ["customer_features.returns"]
    (alert,) = list_alerts(store)
    assert alert["occurrences"] == 2 and len(got) == 1
    assert len(records(store, "drift", subject_prefix="customer_features")) == 3


def test_a_feature_back_under_the_threshold_clears_its_alert(store, tmp_path) -> None:
    clock = SimClock(day(420))
    ctx = _ctx(store, tmp_path, clock)
    inject_returns(store)
    take_reference(store, day(390), clock.now())  # the shift was before the reference: not drift
    ctx.alert("drift", "customer_features.returns", "left from an earlier run")
    assert check_drift(ctx, as_of=day(390))["drifted"] == []
    assert list_alerts(store) == []
    (closed,) = list_alerts(store, open_only=False)
    assert closed["resolved_at"] is not None


def test_drift_needs_a_reference_and_enough_rows(store, tmp_path) -> None:
    ctx = _ctx(store, tmp_path, SimClock(day(420)))
    first = check_drift(ctx, as_of=day(420))
    assert first["subjects"]["customer_features"] == {
        "tested": False,
        "reason": "no reference yet (no model trained on customers)",
    }
    take_reference(store, day(390), day(420))
    strict = _ctx(store, tmp_path, SimClock(day(420)), drift_min_rows=10**6)
    rows = check_drift(strict, as_of=day(420))["subjects"]["customer_features"]["features"]
    assert rows and all(not r["tested"] and "too few rows" in r["reason"] for r in rows)


def test_stale_data_and_a_rejecting_load_alert(store, tmp_path) -> None:
    import datetime as dt

    from marketloop.store import schema

    with store.begin() as conn:
        conn.execute(
            schema.ingest_runs.insert().values(
                ingest_id="i" * 64,
                kind="orders",
                source="orders.csv",
                sha256="0" * 64,
                rows_read=1000,
                rows_loaded=800,
                rows_skipped=0,
                rows_rejected=200,
                finished_at=dt.datetime(2026, 3, 1),
            )
        )
    fresh = check_freshness(_ctx(store, tmp_path, SimClock(day(420) + dt.timedelta(hours=12))))
    assert fresh["tables"]["orders"]["age_hours"] < 48
    assert [a["kind"] for a in list_alerts(store)] == ["rejects"]
    stale = check_freshness(_ctx(store, tmp_path, SimClock(day(425))))
    assert stale["tables"]["orders"]["age_hours"] > 48
    kinds = sorted((a["kind"], a["subject"]) for a in list_alerts(store))
    assert kinds == [("freshness", "events"), ("freshness", "orders"), ("rejects", "orders:iiiiiiiiiiii")]
    resolved = resolve_alert(store, list_alerts(store, kind="rejects")[0]["alert_id"], day(425))
    assert resolved["resolved_at"] is not None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"alert_webhook_url": "http://127.0.0.1:9/x"}, "alert_webhook_secret is not"),
        ({"alert_webhook_url": "http://127.0.0.1:9/x", "alert_webhook_secret": "short"}, "16 characters"),
    ],
)
def test_bad_alert_webhook_settings_fail_clearly(store, tmp_path, settings, message) -> None:
    from marketloop.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        _ctx(store, tmp_path, SimClock(day(420)), **settings)
