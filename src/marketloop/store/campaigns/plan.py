"""The campaign plan: the contract between the planner (strategy), delivery and measurement.

A plan is stored in ``campaigns.plan_json`` (everything but the audience) and its audience, one row per
customer, in ``campaign_audience`` (see ``store/schema.py``); :mod:`marketloop.store.campaigns` reads and
writes both. It lives beside the tables it describes, below every package that uses it: the planner
builds it, delivery reads it at launch, draws the holdout (stratified by ``group``) and writes ``sends``,
and measurement compares realised outcomes with ``predictions``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["email", "sms", "push", "webhook"]
#: the statuses of :mod:`marketloop.store.campaigns.status` (the status machine)
CampaignStatus = Literal["planned", "approved", "running", "paused", "completed", "cancelled"]


def holdout_size(customers: int, fraction: float) -> int:
    """How many of a group of ``customers`` are held out at launch: round(fraction x n), at least one when the
    fraction is positive and the group has two or more customers (the outbox draws exactly this many)."""
    if fraction <= 0 or customers <= 0:
        return 0
    k = int(round(fraction * customers))
    return 1 if k == 0 and customers >= 2 else k


class Interval(BaseModel):
    """A predicted quantity: point estimate and an interval (default 90 %)."""

    model_config = ConfigDict(extra="forbid")
    mean: float
    low: float
    high: float
    level: float = 0.9


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    discount: float = Field(0.0, ge=0.0, lt=1.0, description="fraction off the order, 0 = no discount")
    code_prefix: str | None = Field(None, description="offer codes are generated per recipient from this prefix")


class Variant(BaseModel):
    """One creative / offer variant; bandits shift traffic between variants of the same group."""

    model_config = ConfigDict(extra="forbid")
    name: str
    offer: Offer = Offer()
    channel: Channel = "email"
    subject: str | None = None
    share: float = Field(1.0, gt=0.0, description="initial traffic share within its groups")


class GroupPlan(BaseModel):
    """A customer group (segment x offer x channel) with the reason it was included or left out."""

    model_config = ConfigDict(extra="forbid")
    group: str
    included: bool
    customers: int
    variant: str | None = None
    reason: str
    predictions: dict[str, Interval] = Field(default_factory=dict)


class CampaignPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = 1
    campaign_id: str
    name: str
    objective: str
    created_at: dt.datetime
    send_at: dt.datetime | None = None
    window_days: int = Field(14, gt=0, description="attribution / response window")
    holdout_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    variants: list[Variant]
    groups: list[GroupPlan]
    #: totals for the included audience: reach, opens, clicks, conversions, incremental_conversions,
    #: incremental_revenue, cost, incremental_profit, roi
    predictions: dict[str, Interval] = Field(default_factory=dict)
    rationale: str = ""

    def counts(self) -> AudienceCounts:
        """The one count of who the plan reaches: see :class:`AudienceCounts`."""
        included = [g for g in self.groups if g.included]
        held = {g.group: holdout_size(g.customers, self.holdout_fraction) for g in included}
        by_variant: dict[str, int] = {}
        for g in included:
            by_variant[g.variant or "-"] = by_variant.get(g.variant or "-", 0) + g.customers - held[g.group]
        audience = sum(g.customers for g in included)
        holdout = sum(held.values())
        return AudienceCounts(
            audience=audience,
            contacted=audience - holdout,
            holdout=holdout,
            left_out=sum(g.customers for g in self.groups if not g.included),
            contacted_by_variant=by_variant,
        )


class AudienceCounts(BaseModel):
    """Who a plan reaches, counted one way everywhere (plan, rationale, report, launch, API, dashboard):
    ``audience`` = ``contacted`` + ``holdout``. ``contacted`` customers are messaged (some may still be skipped
    at send time, e.g. a consent withdrawn since); the ``holdout`` is drawn at random from each group at
    launch and never messaged, so that the effect can be measured; ``left_out`` are the customers the
    planner considered and did not select."""

    model_config = ConfigDict(extra="forbid")
    audience: int
    contacted: int
    holdout: int
    left_out: int
    contacted_by_variant: dict[str, int] = Field(default_factory=dict)
