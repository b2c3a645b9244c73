"""Campaign goals: what the marketer wants, declared in TOML (or an API body) and validated.

Example (``goal.toml``)::

    name = "Win back lapsing customers"
    objective = "incremental_profit"      # or incremental_revenue, conversions, reactivations
    budget = 2000                         # money for discounts given away and sends
    margin_floor = 0.30                   # gross margin kept on discounted orders
    max_discount = 0.30
    discounts = [0.0, 0.1, 0.2]           # levels the planner may choose from (<= max_discount)
    channels = ["email"]
    window_days = 14
    start = 2026-01-05                    # first day the campaign may be sent
    end = 2026-01-09                      # last day (a later day is never chosen)

    [eligible]                            # who may be contacted (all optional)
    segment = "lapsing"                   # new, active, lapsing, lapsed (by recency of orders / visits)
    min_orders = 1
    min_days_since_order = 60
    max_days_since_order = 365
    countries = ["DE", "FR"]

    [frequency]
    max_messages = 1                      # per customer inside the window (the plan sends one)
    min_days_between = 7                  # customers messaged this recently are left out
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from marketloop.errors import InputError
from marketloop.strategy.plan import Channel

Objective = Literal["incremental_profit", "incremental_revenue", "conversions", "reactivations"]
Segment = Literal["all", "new", "active", "lapsing", "lapsed"]


class Eligibility(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segment: Segment = "all"
    min_orders: int = Field(0, ge=0)
    min_days_since_order: float | None = Field(None, ge=0)
    max_days_since_order: float | None = Field(None, ge=0)
    countries: list[str] | None = None
    customer_ids: list[str] | None = Field(None, description="an explicit list (API use); combined with the rest")

    @model_validator(mode="after")
    def _order(self) -> Eligibility:
        lo, hi = self.min_days_since_order, self.max_days_since_order
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"min_days_since_order ({lo}) must not exceed max_days_since_order ({hi})")
        return self


class Frequency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_messages: int = Field(1, ge=1, le=10)
    min_days_between: int = Field(0, ge=0, le=365)


class Goal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=200)
    objective: Objective = "incremental_profit"
    budget: float | None = Field(None, gt=0, description="money for discounts and sends; none = unlimited")
    margin_floor: float = Field(0.0, ge=0.0, lt=1.0, description="gross margin to keep on discounted orders")
    max_discount: float = Field(0.3, ge=0.0, le=0.5)
    discounts: list[float] = Field(default_factory=lambda: [0.0, 0.1, 0.2])
    channels: list[Channel] = Field(default_factory=lambda: ["email"], min_length=1)
    window_days: int = Field(14, ge=1, le=90)
    start: dt.date | None = None
    end: dt.date | None = None
    holdout_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    eligible: Eligibility = Eligibility()
    frequency: Frequency = Frequency()

    @model_validator(mode="after")
    def _consistent(self) -> Goal:
        if not self.discounts:
            raise ValueError("discounts must list at least one level (0.0 = no discount)")
        for d in self.discounts:
            if not 0.0 <= d <= 0.5:
                raise ValueError(f"discounts: each level must be between 0 and 0.5, got {d}")
            if d > self.max_discount + 1e-12:
                raise ValueError(f"discounts: level {d} is above max_discount {self.max_discount}")
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels: each channel may appear once")
        return self

    def allowed_discount(self, cost_ratio: float) -> float:
        """Largest discount keeping (price x (1 - d) - cost) / (price x (1 - d)) >= margin_floor."""
        return max(0.0, min(self.max_discount, 1.0 - cost_ratio / (1.0 - self.margin_floor)))


def parse_goal(data: dict, source: str = "goal") -> Goal:
    """Validate a goal dict; errors name the field, the value and what was expected."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a table of settings, got {type(data).__name__}", field=source)
    try:
        return Goal.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(goal)"
        if first["type"] == "extra_forbidden":
            message = f"{where}: unknown field in {source}"
            hint = f"Known fields: {', '.join(Goal.model_fields)}; [eligible]: {', '.join(Eligibility.model_fields)}; [frequency]: {', '.join(Frequency.model_fields)}."
        elif first["type"] == "missing":
            message = f"{where}: required in {source} but missing"
            hint = 'Add it, e.g. name = "Spring win-back".'
        else:
            message = f"{where}: {first['msg']} (got {first.get('input')!r}) in {source}"
            hint = "See docs/strategy.md for every goal field and its range."
        if len(exc.errors()) > 1:
            message += f" (and {len(exc.errors()) - 1} more problem(s))"
        raise InputError(message, field=where, value=first.get("input"), hint=hint) from None


def load_goal(path: str | Path) -> Goal:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"GOAL: file not found: {path}", field="goal", value=str(path), hint="Pass a TOML file; see docs/strategy.md for an example.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"GOAL: {path} is not valid TOML: {exc}", field="goal", value=str(path),
                         hint='Strings need quotes (name = "Win back"), lists brackets (channels = ["email"]).') from None
    return parse_goal(data, source=path.name)
