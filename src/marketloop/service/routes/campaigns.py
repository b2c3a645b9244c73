"""Campaigns: plan from a goal, approve, launch, pause, resume, watch and measure.

``POST /v1/campaigns`` takes a goal (the fields of the goal TOML, validated by the same model,
``strategy.goal.Goal``), learns uplift from the store's randomised history and stores the plan as
``planned``. A store without such history can only be planned on when the server delivers to a
simulator (``MARKETLOOP_SIM_DIR``): an exploration round then runs in the simulator first and is
recorded as a past campaign, exactly as ``marketloop campaign plan --sim`` does. Planning runs in the
request (about a second on a few thousand customers) and one plan is made at a time.

Status changes follow ``planned -> approved -> running <-> paused`` (``running -> completed`` is the
dispatcher's); any other change answers 409 ``conflict`` naming the current status. Launching writes
the outbox; the dispatcher (``service/worker.py``) delivers it. Every change is audited.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from marketloop.errors import InputError, NotFoundError
from marketloop.service.audit import record
from marketloop.service.auth import require
from marketloop.service.errors import ApiError
from marketloop.service.keys import Principal
from marketloop.store.campaigns import (
    ACTIONS,
    AudienceCounts,
    Campaign,
    CampaignPlan,
    CampaignStatus,
    GroupPlan,
    Interval,
    allowed_actions,
    audience_by_variant,
    audience_sizes,
    list_plans,
    load_campaign,
    outbox_counts,
    save_plan,
    set_status,
    status_glossary,
)
from marketloop.store.engine import Store
from marketloop.strategy import EXPLORATION_SHARE
from marketloop.strategy.goal import Goal, parse_goal

router = APIRouter(prefix="/v1", tags=["campaigns"])

_PAST = {"approve": "approved", "launch": "launched", "pause": "paused", "resume": "resumed"}
HEADLINE = ("reach", "incremental_conversions", "incremental_revenue", "cost", "incremental_profit", "roi")

_planning = threading.Lock()  # one plan at a time: it is CPU-bound, and two first plans would both explore
_transitions = threading.Lock()  # check-then-change of a campaign's status, within this process

CampaignId = PathParam(..., min_length=1, max_length=64, description="Campaign id, as returned by POST /v1/campaigns.")


# ------------------------------------------------------------------------------------------ models
class ExploreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fraction: float = Field(
        EXPLORATION_SHARE, gt=0, le=1, description="Share of the simulated customers in the exploration round."
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the round (who gets which offer).")


class CampaignIn(Goal):
    """A goal (the same fields as the goal TOML, see docs/strategy.md) plus two planning options."""

    explore: ExploreIn | None = Field(
        None,
        description="Options of the exploration round run in the server's simulator (MARKETLOOP_SIM_DIR) when the "
        "store has no randomised history yet; ignored when it has. Without a simulator and without "
        "history the goal cannot be planned (422, field `history`).",
    )
    learner: Literal["t_learner", "x_learner", "dr_learner"] = Field("t_learner", description="Uplift learner.")


class OutboxCounts(BaseModel):
    waiting: int = Field(0, description="waiting for a bandit to choose their variant")
    queued: int = Field(0, description="due or scheduled, not yet delivered")
    sending: int = Field(0, description="being delivered")
    sent: int = Field(0, description="confirmed by the channel")
    skipped: int = Field(0, description="refused at send time (consent, suppression, caps)")
    dead: int = Field(0, description="failed for good")
    holdout: int = Field(0, description="held out to measure the effect; never sent")


class AudienceOut(BaseModel):
    customers: int
    by_variant: dict[str, int]


class CampaignOut(BaseModel):
    campaign_id: str
    name: str
    status: CampaignStatus
    allowed_actions: list[str] = Field(
        ..., description="the status changes possible now (approve, launch, pause, resume)"
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    goal: dict[str, Any] | None = Field(None, description="the goal it was planned for (none for plans made elsewhere)")
    plan: CampaignPlan
    groups: list[GroupPlan] = Field(
        ..., description="the plan's customer groups with the reason each was included or left out"
    )
    predictions: dict[str, Interval] = Field(..., description="predicted effect of the whole campaign (90 % intervals)")
    rationale: str
    audience: AudienceOut
    counts: AudienceCounts = Field(
        ..., description="who the plan reaches: audience = contacted (messaged) + holdout (never messaged)"
    )
    outbox: OutboxCounts


class PlanningOut(BaseModel):
    seconds: float = Field(..., description="time spent planning (and exploring)")
    learner: str
    explored: bool = Field(..., description="whether an exploration round ran in the simulator for this plan")
    history_campaigns: list[str] = Field(..., description="the randomised campaigns uplift was learned from")
    history_customers: int
    eligible: int = Field(..., description="customers matching the goal's eligibility rules")
    send_day: str


class CreatedOut(CampaignOut):
    planning: PlanningOut


class CampaignSummary(BaseModel):
    campaign_id: str
    name: str
    status: CampaignStatus
    objective: str
    created_at: dt.datetime
    updated_at: dt.datetime
    send_at: dt.datetime | None
    audience: int
    counts: AudienceCounts = Field(
        ..., description="who the plan reaches: audience = contacted (messaged) + holdout (never messaged)"
    )
    predictions: dict[str, Interval] = Field(..., description=f"headline predictions: {', '.join(HEADLINE)}")


class CampaignList(BaseModel):
    total: int
    items: list[CampaignSummary]


class LaunchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holdout: float | None = Field(None, ge=0, lt=1, description="Holdout share (default: the plan's).")
    force_no_holdout: bool = Field(False, description="Allow a zero holdout (the effect can then never be measured).")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the holdout draw.")


class LaunchOut(BaseModel):
    audience: int
    queued: int
    holdout: int
    already_in_outbox: int


class ActionOut(BaseModel):
    campaign_id: str
    previous_status: str
    status: CampaignStatus
    allowed_actions: list[str]
    launch: LaunchOut | None = Field(None, description="what launching wrote to the outbox (launch only)")
    fairness: dict[str, Any] | None = Field(
        None,
        description="approve only: the plan's fairness report (offer rate, discount depth and predicted benefit by "
        "group, disparity ratios, violations); with fairness_guard=block a plan with violations answers 409",
    )


class WorkerOut(BaseModel):
    in_process: bool = Field(..., description="whether this server runs the dispatcher (else `marketloop worker` must)")
    mode: Literal["simulator", "channels", "none"] | None = Field(None, description="what it delivers with")
    passes: int | None = None
    last_pass_at: dt.datetime | None = Field(None, description="end of its last pass over running campaigns (UTC)")
    last_pass_seconds: float | None = None
    last_error: str | None = None
    interval_s: float | None = None
    note: str
    last_result: dict[str, Any] | None = Field(
        None, description="this campaign's result in the last pass, if it was in it"
    )


class StatusOut(BaseModel):
    campaign_id: str
    name: str
    status: str
    allowed_actions: list[str]
    updated_at: dt.datetime
    outbox: OutboxCounts
    worker: WorkerOut


class Funnel(BaseModel):
    audience: int
    treated: int
    holdout: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    converted: int


class PredictedVsRealised(BaseModel):
    metric: str
    predicted: float | None
    predicted_low: float | None
    predicted_high: float | None
    realised: float | None
    realised_low: float | None
    realised_high: float | None


class ReportOut(BaseModel):
    campaign_id: str
    name: str
    status: str
    objective: str
    window_days: int
    confidence_level: float
    outbox: OutboxCounts
    funnel: Funnel
    overall: dict[str, Any] = Field(
        ...,
        description="lift against the holdout: treated, holdout, rates, *_lift with "
        "*_low / *_high intervals, incremental_* totals (empty before launch)",
    )
    by_segment: list[dict[str, Any]] = Field(..., description="the same, per plan group (`level`)")
    by_variant: list[dict[str, Any]] = Field(..., description="the same, per variant (`level`)")
    prediction_vs_realised: list[PredictedVsRealised]
    skip_reasons: dict[str, int]
    plan: dict[str, Any]


# ----------------------------------------------------------------------------------------- helpers
def _planned(store: Store, campaign_id: str) -> Campaign:
    """The campaign; 404 for an unknown id or a campaign without a plan (e.g. an exploration round)."""
    try:
        return load_campaign(store, campaign_id, require_plan=True)
    except NotFoundError as exc:
        raise NotFoundError(
            exc.message, hint="List campaigns with GET /v1/campaigns; plan one with POST /v1/campaigns."
        ) from None


def _ts(value) -> dt.datetime:  # noqa: ANN001
    return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value


def _detail(store: Store, campaign_id: str) -> CampaignOut:
    campaign = _planned(store, campaign_id)
    plan = campaign.plan
    variants = audience_by_variant(store, campaign_id)
    return CampaignOut(
        campaign_id=campaign_id,
        name=campaign.name,
        status=campaign.status,
        allowed_actions=allowed_actions(campaign.status),
        created_at=_ts(campaign.created_at),
        updated_at=_ts(campaign.updated_at),
        goal=campaign.goal,
        plan=plan,
        groups=plan.groups,
        predictions=plan.predictions,
        rationale=plan.rationale,
        audience=AudienceOut(customers=sum(variants.values()), by_variant=variants),
        counts=plan.counts(),
        outbox=OutboxCounts(**outbox_counts(store, campaign_id)),
    )


def _history(store, settings, goal: Goal, explore: ExploreIn | None):  # noqa: ANN001, ANN202
    """The randomised history to learn from, and whether an exploration round ran for it (the
    decision of `marketloop campaign plan --sim`, with the server's simulator)."""
    from marketloop.strategy.history import exploration_arms, read_history, run_exploration

    history = read_history(store)
    if history is not None:
        return history, False
    if settings.sim_dir is None:
        if explore is not None:
            raise InputError(
                "explore: this server has no simulator to run an exploration round in",
                field="explore",
                hint="Start the server with --sim DIR (MARKETLOOP_SIM_DIR) for a simulated store; a real "
                "store learns from a first campaign launched with a holdout.",
            )
        raise InputError(
            "history: the store has no randomised campaign history (sends with a holdout) to learn uplift from",
            field="history",
            hint="Launch a first campaign with a holdout (e.g. from `marketloop campaign "
            "launch`), or, for a simulated store, start the server with --sim DIR so an exploration round "
            "can run in the simulator.",
        )
    arms = exploration_arms(goal)
    if not arms:
        raise InputError(
            "channels: an exploration round needs an email, sms or push channel (the simulator has no webhooks)",
            field="channels",
            value=goal.channels,
            hint='Add "email" to channels.',
        )
    from marketloop.delivery.channels.sim import load_world

    world = load_world(str(Path(settings.sim_dir).resolve()))
    options = explore or ExploreIn()
    history = run_exploration(store, world, world.customer_ids, arms, fraction=options.fraction, seed=options.seed)
    return history, True


def _conflict(campaign_id: str, status: str, action: str) -> ApiError:
    required = ACTIONS[action][0]
    now = allowed_actions(status)
    if now:
        hint = "Possible now: " + ", ".join(f"{a} (POST /v1/campaigns/{campaign_id}/{a})" for a in now) + "."
    else:
        hint = f"A {status} campaign takes no more actions; plan a new one with POST /v1/campaigns."
    article = "an" if required[0] in "aeiou" else "a"
    already = status == ACTIONS[action][1] and action != "launch"
    message = (
        f"campaign {campaign_id!r} is already {status}"
        if already
        else f"campaign {campaign_id!r} is {status}: only {article} {required} campaign can be {_PAST[action]}"
    )
    return ApiError(409, "conflict", message, field="status", hint=hint)


def _act(
    request: Request, principal: Principal, campaign_id: str, action: str, body: LaunchIn | None = None
) -> ActionOut:
    store = request.app.state.ml.store
    launched = None
    fairness = None
    with _transitions:
        status = _planned(store, campaign_id).status
        if status != ACTIONS[action][0]:
            raise _conflict(campaign_id, status, action)
        if action == "launch":
            from marketloop.delivery.outbox import launch

            body = body or LaunchIn()
            try:
                summary = launch(
                    store,
                    campaign_id,
                    force_no_holdout=body.force_no_holdout,
                    holdout_fraction=body.holdout,
                    seed=body.seed,
                )
            except InputError as exc:
                if exc.field == "holdout_fraction":  # the body calls it `holdout`
                    raise InputError(
                        exc.message,
                        field="holdout",
                        value=exc.value,
                        hint="Keep a holdout (e.g. 0.1), or send force_no_holdout: true if you really mean it.",
                    ) from None
                raise
            launched = LaunchOut(
                audience=summary.audience,
                queued=summary.queued,
                holdout=summary.holdout,
                already_in_outbox=summary.already_in_outbox,
            )
        elif action == "approve":
            from marketloop.ops.approval import approve_campaign

            _, fairness = approve_campaign(store, request.app.state.ml.settings, campaign_id)
        else:
            set_status(store, campaign_id, ACTIONS[action][1])
    new = ACTIONS[action][1]
    detail: dict[str, Any] = {"from": status, "to": new}
    if fairness is not None:
        detail["fairness"] = {"fair": fairness["fair"], "violations": len(fairness["violations"])}
    if launched is not None:
        detail |= launched.model_dump() | {"holdout_fraction": body.holdout, "seed": body.seed}
    record(store, principal, f"campaign.{action}", campaign_id, detail)
    return ActionOut(
        campaign_id=campaign_id,
        previous_status=status,
        status=new,
        allowed_actions=allowed_actions(new),
        launch=launched,
        fairness=fairness,
    )


# ------------------------------------------------------------------------------------------ routes
@router.post(
    "/campaigns",
    status_code=201,
    response_model=CreatedOut,
    summary="Plan a campaign for a goal (stored as planned, with its predicted effect)",
    responses={
        422: {"description": "invalid goal (the field is named), or nothing to learn uplift from"},
        503: {"description": "another plan is being made; retry after Retry-After seconds"},
    },
)
def create_campaign(body: CampaignIn, request: Request, principal: Principal = Depends(require("write"))) -> CreatedOut:
    from marketloop.strategy.planner import plan_campaign

    state = request.app.state.ml
    goal = parse_goal(body.model_dump(exclude={"explore", "learner"}), source="the goal")
    if not _planning.acquire(timeout=60):
        raise ApiError(
            503,
            "busy",
            "another campaign is being planned",
            hint="Retry after the Retry-After delay.",
            headers={"Retry-After": "5"},
        )
    try:
        started = time.perf_counter()
        history, explored = _history(state.store, state.settings, goal, body.explore)
        result = plan_campaign(state.store, goal, history=history, learner=body.learner)
        campaign_id = save_plan(state.store, result.plan, result.audience, goal=result.goal)
        seconds = round(time.perf_counter() - started, 3)
    finally:
        _planning.release()
    record(
        state.store,
        principal,
        "campaign.create",
        campaign_id,
        {
            "name": goal.name,
            "objective": goal.objective,
            "audience": int(len(result.audience)),
            "explored": explored,
            "learner": body.learner,
        },
    )
    facts = result.facts
    planning = PlanningOut(
        seconds=seconds,
        learner=body.learner,
        explored=explored,
        history_campaigns=facts["history_campaigns"],
        history_customers=facts["history_customers"],
        eligible=facts["eligible"],
        send_day=facts["send_day"],
    )
    return CreatedOut(**_detail(state.store, campaign_id).model_dump(), planning=planning)


@router.get(
    "/campaigns", response_model=CampaignList, summary="Planned campaigns, newest first, with headline predictions"
)
def list_campaigns(
    request: Request,
    status: CampaignStatus | None = Query(None, description="Only campaigns with this status."),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    _: Principal = Depends(require("read")),
) -> CampaignList:
    store = request.app.state.ml.store
    total, campaigns = list_plans(store, status=status, limit=limit, offset=offset)
    size = audience_sizes(store, [c.campaign_id for c in campaigns])
    items = []
    for campaign in campaigns:
        plan = campaign.plan
        items.append(
            CampaignSummary(
                campaign_id=campaign.campaign_id,
                name=campaign.name,
                status=campaign.status,
                objective=plan.objective,
                created_at=_ts(campaign.created_at),
                updated_at=_ts(campaign.updated_at),
                send_at=plan.send_at,
                audience=size.get(campaign.campaign_id, 0),
                counts=plan.counts(),
                predictions={k: plan.predictions[k] for k in HEADLINE if k in plan.predictions},
            )
        )
    return CampaignList(total=total, items=items)


class StatusGlossary(BaseModel):
    campaign: dict[str, str] = Field(..., description="campaign statuses: planned, approved, running, ...")
    send: dict[str, str] = Field(..., description="statuses of a message in the outbox: queued, sent, holdout, ...")
    dispatch: dict[str, str] = Field(..., description="counts of a dispatch run: sent, skipped, deferred, ...")


@router.get(
    "/campaigns/statuses",
    response_model=StatusGlossary,
    summary="What every campaign status, outbox status and dispatch count means (for people)",
)
def campaign_statuses(_: Principal = Depends(require("read"))) -> StatusGlossary:
    return StatusGlossary(**status_glossary())


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignOut,
    summary="A campaign: goal, plan, groups with reasons, predicted effect, rationale, status, outbox",
)
def get_campaign(
    request: Request, campaign_id: str = CampaignId, _: Principal = Depends(require("read"))
) -> CampaignOut:
    return _detail(request.app.state.ml.store, campaign_id)


@router.post(
    "/campaigns/{campaign_id}/approve",
    response_model=ActionOut,
    summary="Approve a planned campaign",
    responses={409: {"description": "the campaign is not planned"}},
)
def approve_campaign(
    request: Request, campaign_id: str = CampaignId, principal: Principal = Depends(require("write"))
) -> ActionOut:
    return _act(request, principal, campaign_id, "approve")


@router.post(
    "/campaigns/{campaign_id}/launch",
    response_model=ActionOut,
    summary="Launch an approved campaign: write its messages to the outbox (holdout kept out) for the dispatcher",
    responses={409: {"description": "the campaign is not approved"}},
)
def launch_campaign(
    request: Request,
    body: LaunchIn | None = None,
    campaign_id: str = CampaignId,
    principal: Principal = Depends(require("write")),
) -> ActionOut:
    return _act(request, principal, campaign_id, "launch", body)


@router.post(
    "/campaigns/{campaign_id}/pause",
    response_model=ActionOut,
    summary="Pause a running campaign (the dispatcher stops before its next batch)",
    responses={409: {"description": "the campaign is not running"}},
)
def pause_campaign(
    request: Request, campaign_id: str = CampaignId, principal: Principal = Depends(require("write"))
) -> ActionOut:
    return _act(request, principal, campaign_id, "pause")


@router.post(
    "/campaigns/{campaign_id}/resume",
    response_model=ActionOut,
    summary="Resume a paused campaign",
    responses={409: {"description": "the campaign is not paused"}},
)
def resume_campaign(
    request: Request, campaign_id: str = CampaignId, principal: Principal = Depends(require("write"))
) -> ActionOut:
    return _act(request, principal, campaign_id, "resume")


@router.get(
    "/campaigns/{campaign_id}/fairness",
    summary="Fairness of the plan's offers: offer rate, discount depth and predicted benefit by customer group",
    responses={404: {"description": "no such campaign"}},
)
def campaign_fairness(
    request: Request, campaign_id: str = CampaignId, principal: Principal = Depends(require("read"))
) -> dict:
    from marketloop.strategy.fairness import plan_fairness

    state = request.app.state.ml
    _planned(state.store, campaign_id)
    s = state.settings
    report = plan_fairness(
        state.store,
        campaign_id,
        attributes=list(s.fairness_attributes),
        min_ratio=s.fairness_min_ratio,
        min_group=s.fairness_min_group,
    )
    return report.as_dict() | {"guard": s.fairness_guard}


@router.get(
    "/campaigns/{campaign_id}/status",
    response_model=StatusOut,
    summary="Status, outbox counts and the dispatcher's state",
)
def campaign_status(
    request: Request, campaign_id: str = CampaignId, _: Principal = Depends(require("read"))
) -> StatusOut:
    state = request.app.state.ml
    campaign = _planned(state.store, campaign_id)
    worker = state.worker
    if worker is None:
        info = WorkerOut(
            in_process=False,
            note="this server does not run the dispatcher: `marketloop worker` processes deliver launched campaigns",
        )
    else:
        info = WorkerOut(in_process=True, **worker.status(), last_result=worker.last.get(campaign_id))
    return StatusOut(
        campaign_id=campaign_id,
        name=campaign.name,
        status=campaign.status,
        allowed_actions=allowed_actions(campaign.status),
        updated_at=_ts(campaign.updated_at),
        outbox=OutboxCounts(**outbox_counts(state.store, campaign_id)),
        worker=info,
    )


def _results(request: Request, campaign_id: str, level: float, window: int | None) -> dict:
    from marketloop.measure.report import campaign_results

    store = request.app.state.ml.store
    _planned(store, campaign_id)
    return campaign_results(store, campaign_id, level=level, window_days=window)


LevelQuery = Query(0.95, ge=0.5, lt=1, description="Confidence level of the intervals.")
WindowQuery = Query(None, ge=1, le=365, description="Attribution window in days (default: the plan's).")


@router.get(
    "/campaigns/{campaign_id}/report",
    response_model=ReportOut,
    summary="Measured results: funnel, lift against the holdout with intervals by segment and variant, predicted vs realised",
)
def campaign_report_json(
    request: Request,
    campaign_id: str = CampaignId,
    level: float = LevelQuery,
    window: int | None = WindowQuery,
    _: Principal = Depends(require("read")),
) -> ReportOut:
    return ReportOut(**_results(request, campaign_id, level, window))


@router.get(
    "/campaigns/{campaign_id}/report.html",
    response_class=HTMLResponse,
    summary="The campaign report as one HTML page with charts (opens offline)",
)
def report_html(
    request: Request,
    campaign_id: str = CampaignId,
    level: float = LevelQuery,
    window: int | None = WindowQuery,
    _: Principal = Depends(require("read")),
) -> HTMLResponse:
    from marketloop.measure.report import campaign_report

    return HTMLResponse(campaign_report(_results(request, campaign_id, level, window)).render())
