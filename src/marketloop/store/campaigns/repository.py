"""Campaigns in the store: a plan with its audience, its status, and what its sends did.

Tables: ``campaigns`` (one row per campaign: name, status, the goal and the plan as JSON; a campaign
without a plan is a record of past sends, such as an exploration round) and ``campaign_audience`` (one row
per customer of a plan). Every reader and writer of these tables goes through this module.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from marketloop.clock import utcnow
from marketloop.errors import ConflictError, InputError, NotFoundError
from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.campaigns.plan import CampaignPlan, Channel
from marketloop.store.campaigns.status import LAUNCHED, STATUSES, check_change
from marketloop.store.engine import Store

#: columns every audience row needs (``campaign_id`` comes from the plan)
AUDIENCE_COLUMNS = ("customer_id", "group_name", "variant", "channel", "discount")
#: columns an audience may carry besides: the planner's per-customer predictions and featured products
AUDIENCE_EXTRAS = ("predicted_uplift", "predicted_profit", "products_json")

#: statuses of a send in the outbox: (waiting ->) queued -> sending -> sent | skipped | dead; holdout rows
#: are never sent, ``waiting`` rows wait for a bandit to choose their variant.
SEND_STATUSES = ("waiting", "queued", "sending", "sent", "skipped", "dead", "holdout")

_CHANNELS = get_args(Channel)
_SHOWN = 5  # offending values named in an error message


@dataclass(frozen=True)
class Campaign:
    """One row of ``campaigns``; ``plan`` is None for a record of past sends (an exploration round)."""

    campaign_id: str
    name: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    goal: dict[str, Any] | None
    plan: CampaignPlan | None


# ------------------------------------------------------------------------------------------ writing
def save_plan(
    store: Store, plan: CampaignPlan, audience: pd.DataFrame, *, goal: BaseModel | Mapping[str, Any] | None = None
) -> str:
    """Store ``plan`` (status ``planned``), its ``audience`` and the ``goal`` it was planned for, in one
    transaction; returns the campaign id.

    ``audience`` has one row per customer with :data:`AUDIENCE_COLUMNS` (and optionally
    :data:`AUDIENCE_EXTRAS`; other columns are ignored); it is validated before anything is written
    (InputError naming the column and the offending values). Saving a plan under the id of a campaign
    that is still ``planned`` replaces its plan, goal and audience (its ``created_at`` stays); once a
    campaign is approved its plan can no longer be replaced (ConflictError), since an approval or a
    launch is for the plan that was shown."""
    frame = _valid_audience(plan, audience)
    goal_json = _goal_json(goal)
    now = utcnow()
    values = {
        "name": plan.name[: schema.campaigns.c.name.type.length],
        "status": "planned",
        "goal_json": goal_json,
        "plan_json": plan.model_dump_json(),
        "updated_at": now,
    }
    c, a = schema.campaigns, schema.campaign_audience
    try:
        with store.begin() as conn:
            # the conditional update takes the row's lock first, so concurrent replacements run one after the other
            replaced = conn.execute(
                c.update().where(c.c.campaign_id == plan.campaign_id, c.c.status == "planned").values(**values)
            ).rowcount
            if replaced:
                conn.execute(a.delete().where(a.c.campaign_id == plan.campaign_id))
            else:
                status = conn.execute(sa.select(c.c.status).where(c.c.campaign_id == plan.campaign_id)).scalar()
                if status is not None:
                    raise ConflictError(
                        f"campaign {plan.campaign_id!r} is {status}; its plan can no longer be replaced",
                        hint="Only a planned campaign's plan can be replaced; save the new plan under a new campaign id.",
                    )
                conn.execute(c.insert().values(campaign_id=plan.campaign_id, created_at=now, **values))
            insert_frame(conn, a, frame)
    except sa.exc.IntegrityError:  # another process saved a campaign with this id between our check and insert
        raise ConflictError(
            f"campaign {plan.campaign_id!r} was saved by another process at the same time",
            hint="Load it to see which plan was kept, or save this plan under a new campaign id.",
        ) from None
    return plan.campaign_id


def record_campaign(
    conn: Connection,
    campaign_id: str,
    name: str,
    *,
    status: str,
    goal: BaseModel | Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Record a campaign without a plan (an exploration round) inside the caller's transaction, so that it
    is written together with its sends; ConflictError when the id is taken."""
    if status not in STATUSES:
        raise InputError(
            f"status: expected one of {', '.join(STATUSES)}, got {status!r}",
            field="status",
            value=status,
            hint="A finished exploration round is completed.",
        )
    c = schema.campaigns
    if conn.execute(sa.select(c.c.status).where(c.c.campaign_id == campaign_id)).first() is not None:
        raise ConflictError(
            f"campaign {campaign_id!r} already exists",
            hint="Use another id (an exploration round's id carries its seed and day: run it with another seed).",
        )
    at = at or utcnow()
    conn.execute(
        c.insert().values(
            campaign_id=campaign_id,
            name=name[: c.c.name.type.length],
            status=status,
            goal_json=_goal_json(goal),
            plan_json=None,
            created_at=at,
            updated_at=at,
        )
    )


def set_status(store: Store, campaign_id: str, new: str, *, conn: Connection | None = None) -> str:
    """Move a campaign to ``new``; returns the old status (nothing changes when it already is ``new``).

    ConflictError on a change the status machine (:data:`~marketloop.store.campaigns.status.TRANSITIONS`)
    does not allow, or when another process changed the status between our read and our write (the update
    is conditional on the old status). With ``conn`` the change is part of the caller's transaction (and
    the old status is read in it, so a campaign recorded earlier in that transaction can be moved)."""
    if conn is None:
        old = load_status(store, campaign_id)
    else:
        c = schema.campaigns.c
        old = conn.execute(sa.select(c.status).where(c.campaign_id == campaign_id)).scalar()
        if old is None:
            raise _not_found(store, campaign_id)
    if old == new:
        return old
    check_change(campaign_id, old, new)
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


# ------------------------------------------------------------------------------------------ reading
_FIELDS = ("campaign_id", "name", "status", "created_at", "updated_at", "goal_json", "plan_json")


def load_campaign(store: Store, campaign_id: str, *, require_plan: bool = False) -> Campaign:
    """The campaign ``campaign_id``; NotFoundError for an unknown id, and with ``require_plan`` also for a
    campaign without a plan (a record of past sends)."""
    c = schema.campaigns.c
    with store.connect() as conn:
        row = conn.execute(sa.select(*(c[f] for f in _FIELDS)).where(c.campaign_id == campaign_id)).mappings().first()
    if row is None:
        raise _not_found(store, campaign_id, "planned campaign" if require_plan else "campaign")
    if require_plan and row["plan_json"] is None:
        raise NotFoundError(
            f"campaign {campaign_id!r} has no plan: it records past sends (such as an exploration round), "
            "it is no planned campaign",
            hint=_recent_plans(store),
        )
    return _campaign(row)


def load_plan(store: Store, campaign_id: str) -> CampaignPlan:
    """The plan of campaign ``campaign_id``; NotFoundError for an unknown id or a campaign without a plan."""
    return load_campaign(store, campaign_id, require_plan=True).plan  # type: ignore[return-value]  # checked there


def load_status(store: Store, campaign_id: str) -> str:
    """The campaign's status; NotFoundError for an unknown id."""
    c = schema.campaigns.c
    status = store.scalar(sa.select(c.status).where(c.campaign_id == campaign_id))
    if status is None:
        raise _not_found(store, campaign_id)
    return str(status)


def load_audience(store: Store, campaign_id: str) -> pd.DataFrame:
    """The plan's audience, one row per customer (all ``campaign_audience`` columns), by customer id."""
    a = schema.campaign_audience
    return store.read_sql(sa.select(a).where(a.c.campaign_id == campaign_id).order_by(a.c.customer_id))


def audience_by_variant(store: Store, campaign_id: str) -> dict[str, int]:
    """Audience size per variant, by variant name."""
    a = schema.campaign_audience.c
    frame = store.read_sql(
        sa.select(a.variant, sa.func.count().label("n"))
        .where(a.campaign_id == campaign_id)
        .group_by(a.variant)
        .order_by(a.variant)
    )
    return {str(v): int(n) for v, n in zip(frame["variant"], frame["n"], strict=True)}


def audience_sizes(store: Store, campaign_ids: list[str]) -> dict[str, int]:
    """Audience size of each of ``campaign_ids`` (campaigns without an audience are left out)."""
    if not campaign_ids:
        return {}
    a = schema.campaign_audience.c
    frame = store.read_sql(
        sa.select(a.campaign_id, sa.func.count().label("n"))
        .where(a.campaign_id.in_(campaign_ids))
        .group_by(a.campaign_id)
    )
    return {str(k): int(n) for k, n in zip(frame["campaign_id"], frame["n"], strict=True)}


def audience_customers(store: Store) -> set[str]:
    """Customers in the audience of any campaign."""
    a = schema.campaign_audience.c
    return set(store.read_sql(sa.select(a.customer_id).distinct())["customer_id"].astype(str))


def list_plans(
    store: Store, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[int, list[Campaign]]:
    """Campaigns with a plan (optionally only those in ``status``), newest first: the total and one page."""
    c = schema.campaigns.c
    where = [c.plan_json.is_not(None)] + ([c.status == status] if status else [])
    total = int(store.scalar(sa.select(sa.func.count()).select_from(schema.campaigns).where(*where)))
    query = (
        sa.select(*(c[f] for f in _FIELDS))
        .where(*where)
        .order_by(c.created_at.desc(), c.campaign_id)
        .limit(limit)
        .offset(offset)
    )
    with store.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return total, [_campaign(r) for r in rows]


# ------------------------------------------------------------------------------------------ history
def launched_campaigns(store: Store, campaign_ids: list[str] | None = None) -> list[Campaign]:
    """Campaigns whose sends are history (running, paused or completed; with or without a plan), oldest
    first; only those of ``campaign_ids`` when given."""
    c = schema.campaigns.c
    query = sa.select(*(c[f] for f in _FIELDS)).where(c.status.in_(LAUNCHED))
    if campaign_ids:
        query = query.where(c.campaign_id.in_(campaign_ids))
    with store.connect() as conn:
        rows = conn.execute(query.order_by(c.created_at, c.campaign_id)).mappings().all()
    return [_campaign(r) for r in rows]


def outbox_counts(store: Store, campaign_id: str) -> dict[str, int]:
    """The campaign's sends by status: every one of :data:`SEND_STATUSES` (0 when none), and any other
    status its sends carry (a recorded exploration round's ``delivered`` / ``failed``)."""
    s = schema.sends.c
    frame = store.read_sql(
        sa.select(s.status, sa.func.count().label("n")).where(s.campaign_id == campaign_id).group_by(s.status)
    )
    counts = {status: 0 for status in SEND_STATUSES}
    counts.update({str(k): int(v) for k, v in zip(frame["status"], frame["n"], strict=True)})
    return counts


# ------------------------------------------------------------------------------------------ helpers
def _campaign(row: Mapping[str, Any]) -> Campaign:
    return Campaign(
        campaign_id=str(row["campaign_id"]),
        name=str(row["name"]),
        status=str(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        goal=json.loads(row["goal_json"]) if row["goal_json"] else None,
        plan=CampaignPlan.model_validate_json(row["plan_json"]) if row["plan_json"] else None,
    )


def _not_found(store: Store, campaign_id: str, kind: str = "campaign") -> NotFoundError:
    return NotFoundError(f"campaign {campaign_id!r} not found: no {kind} has this id", hint=_recent_plans(store))


def _recent_plans(store: Store) -> str:
    c = schema.campaigns.c
    known = store.read_sql(
        sa.select(c.campaign_id).where(c.plan_json.is_not(None)).order_by(c.created_at.desc()).limit(5)
    )
    if known.empty:
        return "Plan one with: marketloop campaign plan GOAL.toml"
    return "Recent plans: " + ", ".join(known["campaign_id"])


def _goal_json(goal: BaseModel | Mapping[str, Any] | None) -> str | None:
    if goal is None:
        return None
    if isinstance(goal, BaseModel):
        return goal.model_dump_json()
    return json.dumps(dict(goal), default=str)


def _bad(column: str, what: str, offending: pd.Series, hint: str) -> InputError:
    """InputError for the audience rows ``offending`` (a slice of the audience, by position)."""
    rows = ", ".join(str(i) for i in offending.index[:_SHOWN]) + (", ..." if len(offending) > _SHOWN else "")
    shown = [v.item() if hasattr(v, "item") else v for v in offending.drop_duplicates().head(_SHOWN)]
    values = "" if offending.isna().all() else f": {', '.join(map(repr, shown))}"
    return InputError(
        f"audience: {len(offending)} row(s) with {what} in column {column} (position {rows}){values}",
        field=column,
        value=shown,
        hint=hint,
    )


def _valid_audience(plan: CampaignPlan, audience: pd.DataFrame) -> pd.DataFrame:
    """The rows to insert into ``campaign_audience``, or InputError naming the first problem."""
    id_length = schema.campaigns.c.campaign_id.type.length
    if len(plan.campaign_id) > id_length or not plan.campaign_id.strip():
        raise InputError(
            f"campaign_id: expected 1 to {id_length} characters, got {plan.campaign_id!r}",
            field="campaign_id",
            value=plan.campaign_id,
            hint="Give the plan a shorter id.",
        )
    if not isinstance(audience, pd.DataFrame):
        raise InputError(
            f"audience: expected a table (pandas DataFrame), got {type(audience).__name__}",
            field="audience",
            hint=f"An audience has one row per customer with {', '.join(AUDIENCE_COLUMNS)}.",
        )
    missing = [c for c in AUDIENCE_COLUMNS if c not in audience.columns]
    if missing:
        raise InputError(
            f"audience: missing column(s) {', '.join(missing)}",
            field="audience",
            value=list(audience.columns),
            hint=f"An audience needs {', '.join(AUDIENCE_COLUMNS)}.",
        )
    frame = audience.reset_index(drop=True)
    if "campaign_id" in frame.columns:
        other = frame["campaign_id"][frame["campaign_id"].astype(str) != plan.campaign_id]
        if len(other):
            raise _bad("campaign_id", "another campaign's id", other, f"The plan's id is {plan.campaign_id!r}.")
    for column in AUDIENCE_COLUMNS:
        empty = frame[column][frame[column].isna()]
        if len(empty):
            raise _bad(column, "no value", empty, f"Every audience row needs a {column}.")
    duplicated = frame["customer_id"][frame["customer_id"].astype(str).duplicated()]
    if len(duplicated):
        raise _bad("customer_id", "a customer listed twice", duplicated, "Give each customer one row (one variant).")
    variants = {v.name for v in plan.variants}
    unknown = frame["variant"][~frame["variant"].astype(str).isin(variants)]
    if len(unknown):
        raise _bad("variant", "a variant not in the plan", unknown, f"Plan variants: {', '.join(sorted(variants))}.")
    channels = frame["channel"][~frame["channel"].astype(str).isin(_CHANNELS)]
    if len(channels):
        raise _bad("channel", "an unknown channel", channels, f"Channels: {', '.join(_CHANNELS)}.")
    discount = pd.to_numeric(frame["discount"], errors="coerce")
    bad_discount = frame["discount"][discount.isna() | (discount < 0) | (discount >= 1)]
    if len(bad_discount):
        raise _bad("discount", "a discount outside 0 <= d < 1", bad_discount, "A discount is a fraction, e.g. 0.1.")
    rows = pd.DataFrame(
        {
            "campaign_id": plan.campaign_id,
            **{c: frame[c].astype(str).astype(object) for c in ("customer_id", "group_name", "variant", "channel")},
            "discount": discount.astype(float),
        }
    )
    for column in ("predicted_uplift", "predicted_profit"):
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            wrong = frame[column][values.isna() & frame[column].notna()]
            if len(wrong):
                raise _bad(column, "a value that is not a number", wrong, f"{column} is a number (or empty).")
            rows[column] = values.astype(float)
    if "products_json" in frame.columns:
        wrong = frame["products_json"][frame["products_json"].notna() & ~frame["products_json"].map(_is_json_list)]
        if len(wrong):
            raise _bad("products_json", "a value that is not a JSON list", wrong, 'E.g. ["p1", "p2"] (or empty).')
        rows["products_json"] = frame["products_json"].astype(object).where(frame["products_json"].notna(), None)
    for column in rows.columns:
        length = getattr(schema.campaign_audience.c[column].type, "length", None)
        if length and rows[column].dtype == object:
            long = rows[column][rows[column].str.len() > length]
            if len(long):
                raise _bad(column, f"more than {length} characters", long, f"Shorten {column} to {length} characters.")
    return rows


def _is_json_list(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return isinstance(json.loads(value), list)
    except ValueError:
        return False
