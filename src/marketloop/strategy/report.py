"""Report section for a planned campaign: predicted effect, groups with reasons, rationale."""

from __future__ import annotations

import pandas as pd

from marketloop.report import Section
from marketloop.store.campaigns import CampaignPlan

ROWS = (
    "reach",
    "opens",
    "clicks",
    "conversions",
    "incremental_conversions",
    "incremental_revenue",
    "cost",
    "incremental_profit",
    "roi",
)


def _f(x: float) -> str:
    return f"{x:,.2f}" if abs(x) < 100 else f"{x:,.0f}"


def plan_section(plan: CampaignPlan, goal_text: str = "", notes: list[str] | None = None) -> Section:
    p = plan.predictions
    effect = pd.DataFrame(
        [
            {
                "quantity": "ROI" if k == "roi" else "customers contacted" if k == "reach" else k.replace("_", " "),
                "predicted": _f(p[k].mean),
                "90 % interval": f"{_f(p[k].low)} to {_f(p[k].high)}",
            }
            for k in ROWS
            if k in p
        ]
    )
    groups = pd.DataFrame(
        [
            {
                "group": g.group,
                "customers": f"{g.customers:,}",
                "offer": g.variant or "-",
                "incremental orders": _f(g.predictions["incremental_conversions"].mean) if g.predictions else "-",
                "incremental profit": _f(g.predictions["incremental_profit"].mean) if g.predictions else "-",
                "why": g.reason,
            }
            for g in plan.groups
        ]
    )
    counts = plan.counts()
    figures = {
        "customers contacted": f"{counts.contacted:,}",
        "holdout (never messaged)": f"{counts.holdout:,}",
    }
    if "incremental_profit" in p:
        figures |= {
            "incremental orders": _f(p["incremental_conversions"].mean),
            "incremental profit": _f(p["incremental_profit"].mean),
            "ROI": f"{p['roi'].mean:,.1f}",
        }
    blocks = [("Rationale", plan.rationale)]
    if goal_text:
        blocks.insert(0, ("Goal", goal_text))
    return Section(
        title=f"Campaign plan: {plan.name}",
        intro=f"{plan.campaign_id}: predicted before sending, for a {plan.window_days}-day window from "
        f"{plan.send_at:%Y-%m-%d %H:%M} UTC. Audience {counts.audience:,}: {counts.contacted:,} contacted and "
        f"{counts.holdout:,} held out at random ({plan.holdout_fraction:.0%}) to measure the effect.",
        figures=figures,
        tables=[("Predicted effect", effect), ("Customer groups: who is included and why", groups)],
        blocks=blocks,
        notes=notes or [],
    )
