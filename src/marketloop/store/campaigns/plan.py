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
