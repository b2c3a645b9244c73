"""The scheduler: a plug-in job runs when its cron time comes on a simulated clock (never by sleeping),
once for missed times, is recorded with its figures, fails without stopping the worker, and two
schedulers never run the same job at once; bad schedules fail at settings time."""

from __future__ import annotations

import datetime as dt

import pytest

from marketloop.clock import SimClock
from marketloop.config import load_settings
from marketloop.errors import ConfigError, NotFoundError
from marketloop.ops.alerts import list_alerts
from marketloop.ops.schedule import JOBS, Job, JobResult, Scheduler, job_history, register_job
from marketloop.store import open_store

T0 = dt.datetime(2026, 3, 2, 8, 30)  # a Monday


@pytest.fixture
def calls():
    seen: list[dt.datetime] = []

    def count_customers(ctx) -> JobResult:
        seen.append(ctx.now())
        n = ctx.store.scalar("select count(*) from customers")
        return JobResult("ok", f"{n} customers", {"customers": n})

    def broken(ctx) -> JobResult:
        raise RuntimeError("the forecast store is unreachable")

    register_job(Job("test_count", count_customers, "count customers (test job)", "0 9 * * *"), replace=True)
    register_job(Job("test_broken", broken, "always fails (test job)", "off"), replace=True)
    yield seen
    JOBS.pop("test_count", None)
    JOBS.pop("test_broken", None)


def _scheduler(tmp_path, clock, **settings):
    store = open_store(f"duckdb:///{tmp_path / 'jobs.duckdb'}")
    s = load_settings(db_url=str(store.url), run_schedules=True, **settings)
    return store, Scheduler(store, s, clock)


def test_a_plugged_in_job_runs_at_its_cron_time_on_the_injected_clock(tmp_path, calls) -> None:
    clock = SimClock(T0)
    store, sched = _scheduler(
        tmp_path,
        clock,
        schedules={"profiles": "off", "recs": "off", "uplift": "off", "monitor": "off", "forecast": "off"},
    )
    assert sched.next_due("test_count") == dt.datetime(2026, 3, 2, 9, 0)
    assert sched.tick() == []  # 08:30: not due yet
    clock.advance_to(dt.datetime(2026, 3, 2, 9, 0, 30))
    (run,) = sched.tick()
    assert run["job"] == "test_count" and run["status"] == "ok" and run["figures"]["customers"] == 0
    assert run["scheduled_for"] == dt.datetime(2026, 3, 2, 9, 0)
    assert sched.tick() == []  # done for today
    clock.advance_to(dt.datetime(2026, 3, 5, 12, 0))  # three cron times missed: run once, for the latest
    (late,) = sched.tick()
    assert late["scheduled_for"] == dt.datetime(2026, 3, 5, 9, 0)
    assert calls == [dt.datetime(2026, 3, 2, 9, 0, 30), dt.datetime(2026, 3, 5, 12, 0)]
    history = job_history(store, "test_count")
    assert [h["status"] for h in history] == ["ok", "ok"] and history[0]["message"] == "0 customers"
    status = {s["job"]: s for s in sched.status()}
    assert status["test_count"]["next_due"] == dt.datetime(2026, 3, 6, 9, 0)
    assert status["monitor"]["schedule"] == "off" and status["monitor"]["next_due"] is None
    store.close()


def test_a_failing_job_is_recorded_and_alerted_and_the_scheduler_goes_on(tmp_path, calls) -> None:
    clock = SimClock(T0)
    store, sched = _scheduler(tmp_path, clock)
    run = sched.run("test_broken")
    assert run["status"] == "failed" and "unreachable" in run["message"] and run["trigger"] == "manual"
    (alert,) = list_alerts(store)
    assert alert["kind"] == "job" and alert["subject"] == "test_broken" and alert["severity"] == "critical"
    assert sched.run("test_count")["status"] == "ok"
    with pytest.raises(NotFoundError, match="no job named 'nope'"):
        sched.run("nope")
    store.close()


def test_a_job_held_by_another_worker_is_left_to_it(tmp_path, calls) -> None:
    from marketloop.delivery.lock import acquire

    clock = SimClock(T0)
    store, sched = _scheduler(tmp_path, clock)
    acquire(store, "job:test_count", "other-host:1:abc", lease_s=60)
    assert sched.run("test_count")["message"] == "running in another worker"
    assert calls == [] and job_history(store, "test_count") == []
    store.close()


def test_the_worker_runs_due_jobs_in_its_own_pass(tmp_path, calls) -> None:
    from marketloop.service.worker import Worker

    store = open_store(f"duckdb:///{tmp_path / 'w.duckdb'}")
    clock = SimClock(T0)
    settings = load_settings(
        db_url=str(store.url),
        run_schedules=True,
        schedules={"monitor": "off", "uplift": "off", "profiles": "off", "recs": "off", "forecast": "off"},
    )
    worker = Worker(store, settings, clock=clock)
    assert worker.mode == "none" and worker.active and worker.status()["schedules"] is True
    clock.advance_to(dt.datetime(2026, 3, 2, 9, 1))
    assert [r["job"] for r in worker.run_jobs_once()] == ["test_count"]
    off = Worker(store, load_settings(db_url=str(store.url), run_schedules=False), clock=clock)
    assert off.scheduler is None and not off.active and off.run_jobs_once() == []
    store.close()


@pytest.mark.parametrize(
    ("schedules", "message"),
    [
        ({"recs": "every day"}, "schedules.recs: 'every day' is not a cron expression"),
        ({"monitor": "61 * * * *"}, "schedules.monitor"),
    ],
)
def test_bad_schedules_fail_when_settings_load(schedules, message) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(schedules=schedules)


def test_a_second_job_of_one_name_needs_replace(calls) -> None:
    with pytest.raises(ConfigError, match="already registered"):
        register_job(Job("test_count", lambda ctx: JobResult(), "another"))
