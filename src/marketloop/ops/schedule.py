"""The job registry and the scheduler.

A :class:`Job` is a name, a function ``run(context) -> JobResult`` and a default schedule. Built-in jobs
are registered by :mod:`marketloop.ops.jobs`; another package plugs its job in the same way::

    from marketloop.ops.schedule import Job, JobResult, register_job

    def refresh_forecasts(ctx):  # ctx.store, ctx.settings, ctx.now(), ctx.alert(...)
        ...
        return JobResult(message="forecasts for 120 products", figures={"products": 120})

    register_job(Job("forecast", refresh_forecasts, "refresh demand forecasts", default_schedule="0 4 * * *"))

When a job runs is a cron expression (UTC) in the ``schedules`` setting, or its default; ``off`` disables
it. cronsim parses the expressions (a small, maintained library; the scheduling around it is ours because
it must read the injected clock, record runs in the store and survive restarts of the worker).

What is due comes from the clock the scheduler is given (``marketloop.clock``): a job is due when a cron
time has passed since the one its last scheduled run was due at (after a pause, missed times are run once,
not once each). Before its first scheduled run a job waits for the first cron time after the scheduler
started. Each run is one row of ``job_runs`` (status, message, figures); two workers never run the same job
at once (a lease in ``dispatch_locks``, as campaigns use).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from marketloop.clock import check_cron
from marketloop.errors import ConfigError, NotFoundError

log = logging.getLogger("marketloop.jobs")

STATUSES = ("running", "ok", "skipped", "kept", "failed")
#: a job holding its lock longer than this is taken to have died (jobs do not heartbeat)
JOB_LEASE_S = 6 * 3600.0


@dataclass
class JobResult:
    """What a run did: ``ok``, ``skipped`` (nothing to do), ``kept`` (a retrain not promoted) or ``failed``."""

    status: str = "ok"
    message: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobContext:
    """What a job gets: the store, settings, the clock, and a way to raise alerts."""

    store: Any
    settings: Any
    clock: Any
    alerts: Any  # marketloop.ops.alerts.AlertSink

    def now(self) -> dt.datetime:
        return self.clock.now()

    def alert(self, kind: str, subject: str, message: str, *, severity: str = "warning", details: Any = None) -> None:
        self.alerts.raise_alert(kind, subject, message, severity=severity, details=details)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[JobContext], JobResult]
    description: str
    default_schedule: str = "off"


JOBS: dict[str, Job] = {}


def register_job(job: Job, *, replace: bool = False) -> Job:
    """Add ``job`` to the registry (a second job of the same name needs ``replace``)."""
    if job.name in JOBS and not replace and JOBS[job.name] is not job:
        raise ConfigError(
            f"a job named {job.name!r} is already registered", hint="Choose another name or pass replace=True."
        )
    check_cron(job.name, job.default_schedule)
    JOBS[job.name] = job
    return job


def registered_jobs() -> dict[str, Job]:
    from marketloop.ops import jobs  # noqa: F401 - registers the built-in jobs

    return dict(JOBS)


def _figures(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


class Scheduler:
    """Runs the registered jobs when their cron time comes, on ``clock``."""

    def __init__(self, store: Any, settings: Any, clock: Any, *, alerts: Any = None) -> None:
        from marketloop.ops.alerts import AlertSink

        self.store = store
        self.settings = settings
        self.clock = clock
        self.alerts = alerts if alerts is not None else AlertSink(store, settings, clock)
        self.started_at = clock.now()
        self.jobs = registered_jobs()
        unknown = sorted(set(settings.schedules) - set(self.jobs))
        if unknown:
            log.warning("schedules name unknown job(s) %s (known: %s)", unknown, sorted(self.jobs))

    # --- when ------------------------------------------------------------------------------------
    def schedule(self, name: str) -> str:
        job = self._job(name)
        return str(self.settings.schedules.get(name, job.default_schedule)).strip()

    def _job(self, name: str) -> Job:
        if name not in self.jobs:
            raise NotFoundError(
                f"no job named {name!r} (jobs: {', '.join(sorted(self.jobs))})",
                hint="List them with `marketloop jobs list`.",
            )
        return self.jobs[name]

    def _last(self, name: str, *, scheduled_only: bool = False) -> dict | None:
        from marketloop.store.schema import job_runs as t

        q = sa.select(t).where(t.c.job == name)
        if scheduled_only:
            q = q.where(t.c.scheduled_for.is_not(None)).order_by(t.c.scheduled_for.desc())
        else:
            q = q.order_by(t.c.started_at.desc())
        with self.store.connect() as conn:
            row = conn.execute(q.limit(1)).mappings().first()
        return dict(row) if row else None

    def next_due(self, name: str) -> dt.datetime | None:
        """The cron time the job is next due at (None when it is off)."""
        from cronsim import CronSim

        expr = self.schedule(name)
        if expr.lower() == "off":
            return None
        last = self._last(name, scheduled_only=True)
        anchor = last["scheduled_for"] if last else self.started_at
        return next(CronSim(expr, anchor.replace(second=0, microsecond=0)))

    def _latest_due(self, name: str, now: dt.datetime) -> dt.datetime | None:
        """The latest cron time at or before ``now`` that is after the last scheduled run, or None."""
        from cronsim import CronSim

        first = self.next_due(name)
        if first is None or first > now:
            return None
        latest = first
        for when in CronSim(self.schedule(name), first):
            if when > now:
                break
            latest = when
        return latest

    def due(self) -> list[tuple[str, dt.datetime]]:
        now = self.clock.now()
        out = []
        for name in sorted(self.jobs):
            when = self._latest_due(name, now)
            if when is not None:
                out.append((name, when))
        return out

    # --- running ---------------------------------------------------------------------------------
    def tick(self) -> list[dict]:
        """Run every due job once (in name order); returns their run records."""
        return [self.run(name, trigger="schedule", scheduled_for=when) for name, when in self.due()]

    def run(self, name: str, *, trigger: str = "manual", scheduled_for: dt.datetime | None = None) -> dict:
        """Run one job now and record it; a failing job is recorded as failed (and alerted), not raised."""
        from marketloop.delivery.lock import LockHeld, acquire, new_owner, release
        from marketloop.store.schema import job_runs as t

        job = self._job(name)
        owner, key = new_owner(), f"job:{name}"
        try:
            acquire(self.store, key, owner, lease_s=JOB_LEASE_S)
        except LockHeld:
            log.info("job %s is running in another worker; left to it", name)
            return {"job": name, "status": "skipped", "message": "running in another worker", "figures": {}}
        run_id = uuid.uuid4().hex
        started = self.clock.now()
        with self.store.begin() as conn:
            conn.execute(
                t.insert().values(
                    run_id=run_id,
                    job=name,
                    trigger=trigger,
                    scheduled_for=scheduled_for,
                    started_at=started,
                    status="running",
                )
            )
        clock0 = time.perf_counter()
        try:
            result = job.run(JobContext(self.store, self.settings, self.clock, self.alerts))
        except Exception as exc:
            log.exception("job %s failed", name)
            first = str(exc).splitlines()[0][:300] if str(exc) else ""
            result = JobResult("failed", f"{type(exc).__name__}: {first}")
            self.alerts.raise_alert("job", name, f"job {name} failed: {result.message}", severity="critical")
        finally:
            release(self.store, key, owner)
        if result.status not in STATUSES:
            result = JobResult("failed", f"job returned an unknown status {result.status!r}", result.figures)
        figures = {**result.figures, "seconds": round(time.perf_counter() - clock0, 3)}
        finished = self.clock.now()
        with self.store.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.run_id == run_id)
                .values(
                    finished_at=finished,
                    status=result.status,
                    message=result.message[:2000],
                    figures_json=_figures(figures),
                )
            )
        log.info("job %s: %s (%s)", name, result.status, result.message)
        return {
            "run_id": run_id,
            "job": name,
            "trigger": trigger,
            "scheduled_for": scheduled_for,
            "started_at": started,
            "finished_at": finished,
            "status": result.status,
            "message": result.message,
            "figures": figures,
        }

    # --- reading ---------------------------------------------------------------------------------
    def status(self) -> list[dict]:
        """Every job: its schedule, next due time and last run."""
        out = []
        for name in sorted(self.jobs):
            last = self._last(name)
            out.append(
                {
                    "job": name,
                    "description": self.jobs[name].description,
                    "schedule": self.schedule(name),
                    "next_due": self.next_due(name),
                    "last_run": run_record(last) if last else None,
                }
            )
        return out


def run_record(row: dict) -> dict:
    return {
        "run_id": row["run_id"],
        "job": row["job"],
        "trigger": row["trigger"],
        "scheduled_for": row["scheduled_for"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "status": row["status"],
        "message": row["message"],
        "figures": json.loads(row["figures_json"]) if row.get("figures_json") else {},
    }


def job_history(store: Any, job: str | None = None, limit: int = 50) -> list[dict]:
    """Recent runs, newest first (of one job, or of all)."""
    from marketloop.store.schema import job_runs as t

    q = sa.select(t).order_by(t.c.started_at.desc(), t.c.run_id).limit(limit)
    if job is not None:
        q = q.where(t.c.job == job)
    with store.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [run_record(dict(r)) for r in rows]
