"""Plans in the store: ``campaigns`` (goal and plan as JSON) and ``campaign_audience`` (one row per customer)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.errors import NotFoundError
from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.engine import Store
from marketloop.strategy.plan import CampaignPlan
from marketloop.strategy.planner import PlanResult

AUDIENCE_COLUMNS = [
    "campaign_id",
    "customer_id",
    "group_name",
    "variant",
    "channel",
    "discount",
    "predicted_uplift",
    "predicted_profit",
    "products_json",
]


def save_plan(store: Store, result: PlanResult) -> str:
    """Store the plan (status ``planned``) and its audience in one transaction; returns the campaign id."""
    plan = result.plan
    now = utcnow()
    audience = result.audience.reindex(columns=AUDIENCE_COLUMNS)
    audience["campaign_id"] = plan.campaign_id
    with store.begin() as conn:
        conn.execute(
            schema.campaigns.insert(),
            [
                {
                    "campaign_id": plan.campaign_id,
                    "name": plan.name[:255],
                    "status": "planned",
                    "goal_json": result.goal.model_dump_json(),
                    "plan_json": plan.model_dump_json(),
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        insert_frame(conn, schema.campaign_audience, audience)
    return plan.campaign_id


def load_plan(store: Store, campaign_id: str) -> tuple[CampaignPlan, str, pd.DataFrame]:
    """The stored plan, its status and its audience; NotFoundError for an unknown id or a campaign without a plan."""
    c, a = schema.campaigns, schema.campaign_audience
    row = store.read_sql(sa.select(c.c.plan_json, c.c.status).where(c.c.campaign_id == campaign_id))
    if row.empty or row.iloc[0]["plan_json"] is None:
        known = store.read_sql(
            sa.select(c.c.campaign_id).where(c.c.plan_json.is_not(None)).order_by(c.c.created_at.desc()).limit(5)
        )
        raise NotFoundError(
            f"campaign {campaign_id!r}: no planned campaign with this id",
            hint=("Recent plans: " + ", ".join(known["campaign_id"]))
            if len(known)
            else "Plan one with: marketloop campaign plan GOAL.toml",
        )
    plan = CampaignPlan.model_validate_json(row.iloc[0]["plan_json"])
    audience = store.read_sql(sa.select(a).where(a.c.campaign_id == campaign_id))
    return plan, str(row.iloc[0]["status"]), audience
