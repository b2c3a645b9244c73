"""Campaign records: store a plan with its audience, read it back, and move it through its statuses."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.errors import ConflictError, InputError, NotFoundError
from marketloop.store import schema
from marketloop.store.bulk import insert_rows
from marketloop.strategy.plan import CampaignPlan

AUDIENCE_COLUMNS = ("customer_id", "group_name", "variant", "channel", "discount")

#: allowed status changes: from -> to
TRANSITIONS = {
    "planned": {"approved", "cancelled"},
    "approved": {"running", "cancelled"},
    "running": {"paused", "completed"},
    "paused": {"running", "cancelled"},
}


def save_plan(store, plan: CampaignPlan, audience: pd.DataFrame, *, status: str = "planned") -> None:  # noqa: ANN001
    """Write ``plan`` to ``campaigns`` and its audience to ``campaign_audience`` (replacing both)."""
    missing = [c for c in AUDIENCE_COLUMNS if c not in audience.columns]
    if missing:
        raise InputError(
            f"audience: missing column(s) {', '.join(missing)}",
            field="audience",
            value=list(audience.columns),
            hint=f"An audience needs {', '.join(AUDIENCE_COLUMNS)}.",
        )
    variants = {v.name for v in plan.variants}
    unknown = sorted(set(audience["variant"]) - variants)
    if unknown:
        raise InputError(
            f"audience: variant(s) {', '.join(unknown)} are not in the plan",
            field="variant",
            value=unknown,
            hint=f"Plan variants: {', '.join(sorted(variants))}.",
        )
    cols = [c.name for c in schema.campaign_audience.columns if c.name in audience.columns or c.name == "campaign_id"]
    frame = audience.assign(campaign_id=plan.campaign_id)[cols]
    rows = [
        {k: (None if (isinstance(v, float) and pd.isna(v)) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
    now = utcnow()
    with store.begin() as conn:
        conn.execute(
            schema.campaign_audience.delete().where(schema.campaign_audience.c.campaign_id == plan.campaign_id)
        )
        conn.execute(schema.campaigns.delete().where(schema.campaigns.c.campaign_id == plan.campaign_id))
        conn.execute(
            schema.campaigns.insert().values(
                campaign_id=plan.campaign_id,
                name=plan.name,
                status=status,
                plan_json=plan.model_dump_json(),
                created_at=now,
                updated_at=now,
            )
        )
        insert_rows(conn, schema.campaign_audience, rows)


def campaign_row(store, campaign_id: str) -> dict:  # noqa: ANN001
    c = schema.campaigns.c
    frame = store.read_sql(sa.select(c.campaign_id, c.name, c.status, c.plan_json).where(c.campaign_id == campaign_id))
    if frame.empty:
        raise NotFoundError(
            f"campaign {campaign_id!r} not found",
            hint="Check the campaign id; campaigns are created by the planner (marketloop campaign plan).",
        )
    return frame.iloc[0].to_dict()


def load_plan(store, campaign_id: str) -> CampaignPlan:  # noqa: ANN001
    row = campaign_row(store, campaign_id)
    if not row["plan_json"]:
        raise InputError(
            f"campaign {campaign_id!r} has no plan",
            field="campaign_id",
            value=campaign_id,
            hint="Plan it first: marketloop campaign plan ...",
        )
    return CampaignPlan.model_validate_json(row["plan_json"])


def load_audience(store, campaign_id: str) -> pd.DataFrame:  # noqa: ANN001
    a = schema.campaign_audience.c
    return store.read_sql(
        sa.select(schema.campaign_audience).where(a.campaign_id == campaign_id).order_by(a.customer_id)
    )


def set_status(store, campaign_id: str, new: str, *, conn=None) -> str:  # noqa: ANN001
    """Move a campaign to ``new``; returns the old status (unchanged when it already is ``new``).

    Raises ConflictError on a change :data:`TRANSITIONS` does not allow, or when another process
    changed the status between our read and our write (the update is conditional on the old status)."""
    old = campaign_row(store, campaign_id)["status"]
    if old == new:
        return old
    if new not in TRANSITIONS.get(old, set()):
        allowed = ", ".join(sorted(TRANSITIONS.get(old, set()))) or "nothing (final)"
        raise ConflictError(
            f"campaign {campaign_id!r} is {old}; it cannot become {new}", hint=f"From {old} it can become: {allowed}."
        )
    c = schema.campaigns.c
    stmt = (
        schema.campaigns.update()
        .where(c.campaign_id == campaign_id, c.status == old)
        .values(status=new, updated_at=utcnow())
    )
    if conn is not None:
        changed = conn.execute(stmt).rowcount
    else:
        with store.begin() as cx:
            changed = cx.execute(stmt).rowcount
    if changed == 0:
        raise ConflictError(
            f"campaign {campaign_id!r} changed status while it was being set to {new}",
            hint="Read its status again and retry if the change still makes sense.",
        )
    return old


def approve(store, campaign_id: str, *, guard=None, now=None):  # noqa: ANN001, ANN201
    """Approve a planned campaign after the fairness guard (``strategy/fairness.py``) has looked at its
    plan: returns (old status, the fairness report or None). A guard in ``block`` mode raises
    FairnessBlocked (409) before anything changes."""
    report = guard.check(store, campaign_id, now=now) if guard is not None else None
    return set_status(store, campaign_id, "approved"), report
