"""Operations: the scheduled jobs and their runs, the monitor's alerts and figures (drift, quality,
freshness). What the dashboard's Operations page shows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam

from marketloop.clock import settings_clock
from marketloop.service.audit import record
from marketloop.service.auth import require
from marketloop.service.keys import Principal

router = APIRouter(prefix="/v1/ops", tags=["operations"])

JobName = PathParam(
    ..., min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$", description="Job name (GET /v1/ops/jobs)."
)
AlertId = PathParam(..., min_length=1, max_length=64, description="Alert id.")


def _scheduler(request: Request):  # noqa: ANN202 - marketloop.ops.schedule.Scheduler
    state = request.app.state.ml
    if state.worker is not None and state.worker.scheduler is not None:
        return state.worker.scheduler

    def build():  # noqa: ANN202
        from marketloop.ops.schedule import Scheduler

        return Scheduler(state.store, state.settings, settings_clock(state.settings.clock))

    return state.cached("scheduler", build)


@router.get("/jobs", summary="Every scheduled job: its schedule, next due time, last run, and recent runs")
def jobs(
    request: Request,
    limit: int = Query(30, ge=1, le=500, description="recent runs to return"),
    principal: Principal = Depends(require("read")),
) -> dict[str, Any]:
    from marketloop.ops.schedule import job_history

    sched = _scheduler(request)
    state = request.app.state.ml
    return {
        "schedules_on": bool(state.settings.run_schedules),
        "runs_in_this_process": state.worker is not None and state.worker.scheduler is not None,
        "jobs": sched.status(),
        "runs": job_history(state.store, limit=limit),
    }


@router.post("/jobs/{job}/run", summary="Run a job now (admin); answers when it has finished, with its figures")
def run_job(request: Request, job: str = JobName, principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    result = _scheduler(request).run(job, trigger="manual")
    record(request.app.state.ml.store, principal, "job.run", job, {"status": result["status"]})
    return result


@router.get("/alerts", summary="Alerts, newest first (open ones by default)")
def alerts(
    request: Request,
    open_only: bool = Query(True, alias="open", description="only alerts not resolved yet"),
    kind: str | None = Query(
        None, max_length=64, description="drift, quality, freshness, rejects, retrain, fairness, job"
    ),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(require("read")),
) -> dict[str, Any]:
    from marketloop.ops.alerts import list_alerts

    return {"alerts": list_alerts(request.app.state.ml.store, open_only=open_only, kind=kind, limit=limit)}


@router.post("/alerts/{alert_id}/resolve", summary="Mark an alert resolved")
def resolve(request: Request, alert_id: str = AlertId, principal: Principal = Depends(require("write"))) -> dict:
    from marketloop.ops.alerts import resolve_alert

    state = request.app.state.ml
    out = resolve_alert(state.store, alert_id, settings_clock(state.settings.clock).now())
    record(state.store, principal, "alert.resolve", alert_id, {"kind": out["kind"]})
    return out


@router.get("/monitor", summary="The monitor's latest figures: drift per feature, quality over time, freshness")
def monitor(
    request: Request,
    limit: int = Query(50, ge=1, le=1000, description="quality records to return (a series over time)"),
    principal: Principal = Depends(require("read")),
) -> dict[str, Any]:
    from marketloop.ops.monitor import FEATURES_SUBJECT, SCORES_SUBJECT, latest_record, records

    store = request.app.state.ml.store
    return {
        "drift": {s: latest_record(store, "drift", s) for s in (FEATURES_SUBJECT, SCORES_SUBJECT)},
        "references": {s: bool(latest_record(store, "reference", s)) for s in (FEATURES_SUBJECT, SCORES_SUBJECT)},
        "quality": records(store, "quality", limit=limit),
        "freshness": latest_record(store, "freshness", "store"),
    }
