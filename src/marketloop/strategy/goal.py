"""Campaign goals: what the marketer wants, declared in TOML (or an API body) and validated.

Example (``goal.toml``)::

    name = "Win back lapsing customers"
    objective = "incremental_profit"      # or incremental_revenue, conversions, reactivations, clear_stock
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

    [clear]                               # objective = "clear_stock": what to sell down
    categories = ["garden"]               # overstocked products of these categories ...
    product_ids = ["SKU-1", "SKU-2"]      # ... and / or these products (stock cover from `forecast train`)
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from marketloop.errors import InputError
from marketloop.store.campaigns import Channel

Objective = Literal["incremental_profit", "incremental_revenue", "conversions", "reactivations", "clear_stock"]
Segment = Literal["all", "new", "active", "lapsing", "lapsed"]


class Eligibility(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    segment: Segment = Field("all", description="lifecycle segment by recency: new, active, lapsing, lapsed, or all")
    min_orders: int = Field(0, ge=0, description="customers with at least this many orders")
    min_days_since_order: float | None = Field(None, ge=0, description="last order at least this many days ago")
    max_days_since_order: float | None = Field(None, ge=0, description="last order at most this many days ago")
    countries: list[str] | None = Field(None, description="ISO country codes; none = every country")
    customer_ids: list[str] | None = Field(None, description="an explicit list (API use); combined with the rest")

    @field_validator("max_days_since_order")
    @classmethod
    def _order(cls, hi: float | None, info: ValidationInfo) -> float | None:
        lo = info.data.get("min_days_since_order")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"min_days_since_order ({lo}) must not exceed max_days_since_order ({hi})")
        return hi


class Frequency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_messages: int = Field(
        1, ge=1, le=10, description="messages per customer inside the window (the plan sends one)"
    )
    min_days_between: int = Field(0, ge=0, le=365, description="customers messaged this recently are left out")


class ClearStock(BaseModel):
    """What a clear-stock goal sells down: the overstocked products of these categories and / or these products."""

    model_config = ConfigDict(extra="forbid")
    categories: list[str] = Field(default_factory=list, description="categories whose overstocked products to clear")
    product_ids: list[str] = Field(default_factory=list, description="products to clear")


class Goal(BaseModel):
    """What the marketer wants. Cross-field rules are checked on the later field, so an error names it
    (``discounts`` against ``max_discount``, ``end`` against ``start``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(..., min_length=1, max_length=200, description="what the campaign is called")
    objective: Objective = Field("incremental_profit", description="what the planner maximises")
    budget: float | None = Field(None, gt=0, description="money for discounts and sends; none = unlimited")
    margin_floor: float = Field(0.0, ge=0.0, lt=1.0, description="gross margin to keep on discounted orders")
    max_discount: float = Field(0.3, ge=0.0, le=0.5, description="largest discount the planner may offer")
    discounts: list[float] = Field(
        default_factory=lambda: [0.0, 0.1, 0.2],
        description="discount levels the planner may choose from (0.0 = no discount), each <= max_discount",
    )
    channels: list[Channel] = Field(
        default_factory=lambda: ["email"], min_length=1, description="channels it may use, each once"
    )
    window_days: int = Field(14, ge=1, le=90, description="attribution / response window in days")
    start: dt.date | None = Field(
        None, description="first day the campaign may be sent (default: the day after the store's data)"
    )
    end: dt.date | None = Field(
        None, description="last day it may be sent (default: start); at most 14 days are considered"
    )
    holdout_fraction: float = Field(
        0.1, ge=0.0, lt=1.0, description="share of the audience held out to measure the effect"
    )
    eligible: Eligibility = Field(default_factory=Eligibility, description="who may be contacted")
    frequency: Frequency = Field(default_factory=Frequency, description="contact limits")
    clear: ClearStock | None = Field(None, description="objective clear_stock: the categories / products to clear")

    @model_validator(mode="after")
    def _clear(self) -> Goal:
        # a model check: a missing [clear] never reaches a field validator
        if self.objective == "clear_stock" and (
            self.clear is None or not (self.clear.categories or self.clear.product_ids)
        ):
            raise PydanticCustomError(
                "clear_scope", 'objective "clear_stock" needs [clear] with categories and / or product_ids'
            )
        if self.objective != "clear_stock" and self.clear is not None:
            raise PydanticCustomError(
                "clear_scope",
                '[clear] is only for objective "clear_stock", not "{objective}"',
                {"objective": self.objective},
            )
        return self

    @field_validator("discounts")
    @classmethod
    def _discounts(cls, discounts: list[float], info: ValidationInfo) -> list[float]:
        if not discounts:
            raise ValueError("list at least one level (0.0 = no discount)")
        top = info.data.get("max_discount")
        for d in discounts:
            if not 0.0 <= d <= 0.5:
                raise ValueError(f"each level must be between 0 and 0.5, got {d}")
            if top is not None and d > top + 1e-12:
                raise ValueError(f"level {d} is above max_discount {top}")
        return discounts

    @field_validator("channels")
    @classmethod
    def _channels(cls, channels: list[str]) -> list[str]:
        if len(set(channels)) != len(channels):
            raise ValueError("each channel may appear once")
        return channels

    @field_validator("end")
    @classmethod
    def _end(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start")
        if start and end and end < start:
            raise ValueError(f"end ({end}) is before start ({start})")
        return end

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
        if first["type"] == "clear_scope":
            where = "clear"
            message = f"clear: {first['msg']} in {source}"
            hint = 'e.g. [clear] categories = ["garden"], or product_ids = ["SKU-1"]; see docs/strategy.md.'
        elif first["type"] == "extra_forbidden":
            message = f"{where}: unknown field in {source}"
            hint = f"Known fields: {', '.join(Goal.model_fields)}; [eligible]: {', '.join(Eligibility.model_fields)}; [frequency]: {', '.join(Frequency.model_fields)}; [clear]: {', '.join(ClearStock.model_fields)}."
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
        raise InputError(
            f"GOAL: file not found: {path}",
            field="goal",
            value=str(path),
            hint="Pass a TOML file; see docs/strategy.md for an example.",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"GOAL: {path} is not valid TOML: {exc}",
            field="goal",
            value=str(path),
            hint='Strings need quotes (name = "Win back"), lists brackets (channels = ["email"]).',
        ) from None
    return parse_goal(data, source=path.name)
