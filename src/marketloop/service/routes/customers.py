"""Customers and segments: the profile list, one customer's 360 view and the RFM segment table.

Everything here reads the ``customer_profiles`` table written by `marketloop analyze`; until it has run,
the list and the segment table are empty and say so in ``next_step``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from marketloop.customers import profile as profiles
from marketloop.customers.churn import BAND_NAMES
from marketloop.customers.lifecycle import STAGES
from marketloop.service.auth import require
from marketloop.service.keys import Principal
from marketloop.service.values import plain, records
from marketloop.store import schema

router = APIRouter(prefix="/v1", tags=["customers"])

ANALYZE_HINT = "Run `marketloop analyze` to build the customer profiles."
SortKey = Literal[tuple(s for name in profiles.SORTABLE for s in (name, f"-{name}"))]  # type: ignore[valid-type]
ChurnBand = Literal[BAND_NAMES]  # type: ignore[valid-type]
Stage = Literal[STAGES]  # type: ignore[valid-type]
CustomerId = Annotated[str, Path(min_length=1, max_length=64, description="The customer's id in the store.")]


class CustomerRow(BaseModel):
    customer_id: str
    segment: str | None = Field(None, description="Named RFM segment.")
    orders: int
    revenue: float = Field(..., description="Net spend: purchases minus returns.")
    clv: float | None = Field(None, description="Expected value over the CLV horizon.")
    churn_probability: float | None = None
    churn_band: str | None = Field(None, description="low, medium, high or very_high.")
    propensity_30d: float | None = Field(None, description="Probability of a purchase in the next 30 days.")
    high_value: bool
    recency_days: int | None = None
    last_order_at: dt.datetime | None = None
    next_order_at: dt.date | None = Field(None, description="Median expected date of the next order.")
    lifecycle_stage: str | None = Field(
        None,
        description="new, active, at_risk or churned (activity against the "
        "customer's own cadence; see docs/customers.md).",
    )
    days_inactive: int | None = Field(None, description="Days since the last event or order.")


LIST_COLUMNS = list(CustomerRow.model_fields)


class CustomerPage(BaseModel):
    total: int = Field(..., description="Customers matching the filters (all pages).")
    limit: int
    offset: int
    as_of: dt.date | None = Field(None, description="Day the profiles describe.")
    items: list[CustomerRow]
    next_step: str | None = Field(None, description="Set when there are no profiles yet.")


class ProfileOut(BaseModel):
    """Every stored profile field (see docs/customers.md)."""

    customer_id: str
    as_of: dt.date
    first_order_at: dt.datetime | None = None
    last_order_at: dt.datetime | None = None
    orders: int
    returns: int
    revenue: float
    recency_days: int | None = None
    last_active_at: dt.datetime | None = None
    days_inactive: int | None = None
    activity_gap_days: float | None = None
    lifecycle_stage: str | None = None
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    segment: str | None = None
    p_alive: float | None = None
    expected_orders: float | None = None
    expected_order_value: float | None = None
    clv: float | None = None
    clv_low: float | None = None
    clv_high: float | None = None
    churn_probability: float | None = None
    churn_band: str | None = None
    churn_model: str | None = None
    next_order_at: dt.date | None = None
    next_order_low: dt.date | None = None
    next_order_high: dt.date | None = None
    propensity_30d: float | None = None
    high_value: bool
    computed_at: dt.datetime


class InterestTag(BaseModel):
    value: str
    share: float


class Reason(BaseModel):
    feature: str
    label: str
    value: float | None = None
    shap: float = Field(..., description="Contribution to the score (SHAP value of the LightGBM model).")


class OrderLine(BaseModel):
    line_no: int
    product_id: str
    name: str | None = None
    category: str | None = None
    quantity: int
    unit_price: float
    discount: float | None = None


class OrderOut(BaseModel):
    order_id: str
    ordered_at: dt.datetime
    status: str
    is_return: bool
    total: float | None = None
    currency: str | None = None
    channel: str | None = None
    lines: list[OrderLine]


class ConsentOut(BaseModel):
    channel: str
    status: str
    updated_at: dt.datetime
    source: str | None = None


class CustomerAttrs(BaseModel):
    country: str | None = None
    language: str | None = None
    time_zone: str | None = None
    signup_at: dt.datetime | None = None
    is_guest: bool | None = None


class ChurnBandOut(BaseModel):
    band: str
    customers: int
    share: float
    probability_from: float
    probability_to: float
    mean_probability: float | None = None
    observed_rate: float | None = Field(None, description="churn observed in this band on the latest labelled snapshot")
    observed_on: str | None = None


class ChurnMeaning(BaseModel):
    definition: str = Field(..., description="churn = no order in the next H days")
    horizon_days: int | None = None
    model: str | None = None
    bands: list[ChurnBandOut] = Field(
        default_factory=list, description="quantile bands of the churn probability (the riskiest tenth is very_high)"
    )


class CustomerDetail(BaseModel):
    customer_id: str
    customer: CustomerAttrs | None = Field(
        None, description="Attributes from the customers table (no contact details)."
    )
    profile: ProfileOut | None = Field(
        None,
        description="None for a customer without a profile (no completed order, or `marketloop analyze` not run yet).",
    )
    interests: dict[str, list[InterestTag]] = Field(..., description="Top category / brand / price-band affinities.")
    churn_reasons: list[Reason] = Field(..., description="Features pushing churn risk up the most.")
    propensity_reasons: list[Reason] = Field(..., description="Features pushing the 30-day purchase probability up.")
    recent_orders: list[OrderOut]
    consents: list[ConsentOut]
    churn: ChurnMeaning | None = Field(None, description="What the churn figures mean (from the last profile refresh).")
    next_step: str | None = None


class SegmentRow(BaseModel):
    segment: str
    customers: int
    share: float = Field(..., description="Share of profiled customers.")
    revenue: float
    revenue_share: float | None = Field(None, description="Share of net revenue (None when total revenue is 0).")
    avg_revenue: float
    avg_clv: float | None = None
    churn_probability: float | None = Field(None, description="Mean churn probability in the segment.")


class SegmentsOut(BaseModel):
    as_of: dt.date | None
    customers: int
    segments: list[SegmentRow]
    churn_bands: dict[str, int] = Field(..., description="Customers per churn-risk band.")
    churn: ChurnMeaning | None = Field(None, description="What the churn figures mean, with each band's observed rate.")
    next_step: str | None = None


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in row.items()}


@router.get("/customers", summary="Customer profiles, filtered, sorted and paged", response_model=CustomerPage)
def list_customers(
    request: Request,
    segment: Annotated[str | None, Query(max_length=64, description="Only this RFM segment, e.g. Champions.")] = None,
    churn_band: Annotated[ChurnBand | None, Query(description="Only this churn-risk band.")] = None,
    high_value: Annotated[bool | None, Query(description="Only high-value (true) or other (false) customers.")] = None,
    lifecycle_stage: Annotated[Stage | None, Query(description="Only this lifecycle stage.")] = None,
    q: Annotated[str | None, Query(max_length=64, description="Part of the customer id (case-insensitive).")] = None,
    sort: Annotated[SortKey, Query(description="Sort column; a leading - sorts descending.")] = "-clv",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    _: Principal = Depends(require("read")),
) -> CustomerPage:
    store = request.app.state.ml.store
    total, page = profiles.query_profiles(
        store,
        segment=segment,
        churn_band=churn_band,
        high_value=high_value,
        lifecycle_stage=lifecycle_stage,
        q=q,
        sort=sort,
        limit=limit,
        offset=offset,
        columns=[*LIST_COLUMNS, "as_of"],
    )
    as_of = (
        plain(page["as_of"].iloc[0])
        if len(page)
        else plain(store.scalar(sa.select(sa.func.max(schema.customer_profiles.c.as_of))))
    )
    hint = ANALYZE_HINT if as_of is None else None
    return CustomerPage(
        total=total,
        limit=limit,
        offset=offset,
        as_of=as_of,
        next_step=hint,
        items=[CustomerRow(**row) for row in records(page.drop(columns="as_of"))],
    )


@router.get(
    "/customers/{customer_id}",
    summary="One customer: profile, interests, churn reasons, orders, consents",
    response_model=CustomerDetail,
    responses={404: {"description": "no such customer"}},
)
def get_customer(
    request: Request,
    customer_id: CustomerId,
    orders: Annotated[int, Query(ge=0, le=100, description="How many recent orders to include.")] = 10,
    _: Principal = Depends(require("read")),
) -> CustomerDetail:
    view = profiles.customer_view(request.app.state.ml.store, customer_id, orders)
    profile = view["profile"]
    return CustomerDetail(
        customer_id=view["customer_id"],
        customer=_clean(view["customer"]) if view["customer"] else None,
        profile=_clean(profile) if profile else None,
        interests=view["interests"],
        churn_reasons=view["churn_reasons"],
        propensity_reasons=view["propensity_reasons"],
        recent_orders=[{**_clean(o), "lines": [_clean(line) for line in o["lines"]]} for o in view["recent_orders"]],
        consents=[_clean(c) for c in view["consents"]],
        churn=_churn_meaning(request.app.state.ml.store),
        next_step=ANALYZE_HINT if profile is None and view["recent_orders"] else None,
    )


@router.get("/segments", summary="RFM segments: size, revenue share, value and churn risk", response_model=SegmentsOut)
def get_segments(request: Request, _: Principal = Depends(require("read"))) -> SegmentsOut:
    from marketloop.customers.churn import BAND_NAMES
    from marketloop.customers.rfm import segment_summary

    frame = profiles.load_profiles(
        request.app.state.ml.store,
        ["customer_id", "segment", "revenue", "clv", "churn_probability", "churn_band", "as_of"],
    )
    if frame.empty:
        return SegmentsOut(as_of=None, customers=0, segments=[], churn_bands={}, next_step=ANALYZE_HINT)
    summary = segment_summary(frame).rename(
        columns={"mean_revenue": "avg_revenue", "mean_clv": "avg_clv", "mean_churn": "churn_probability"}
    )
    counts = frame["churn_band"].value_counts()
    return SegmentsOut(
        as_of=plain(frame["as_of"].iloc[0]),
        customers=len(frame),
        segments=[
            SegmentRow(**row)
            for row in records(
                summary.astype({c: "float64" for c in summary.columns if summary[c].dtype.kind == "f"}).round(4)
            )
        ],
        churn_bands={name: int(counts[name]) for name in BAND_NAMES if name in counts.index},
        churn=_churn_meaning(request.app.state.ml.store),
    )


def _churn_meaning(store) -> ChurnMeaning | None:  # noqa: ANN001 - Store
    meaning = profiles.churn_bands(store)
    return ChurnMeaning(**meaning) if meaning else None
