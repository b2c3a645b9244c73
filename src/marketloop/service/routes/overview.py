"""The store at a glance: headline figures and a monthly series for the dashboard's first page."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from marketloop.service.auth import require
from marketloop.service.keys import Principal
from marketloop.service.values import records
from marketloop.store import overview, schema

router = APIRouter(prefix="/v1", tags=["overview"])


class KpisOut(BaseModel):
    revenue: float = Field(..., description="Sales revenue, returns excluded.")
    orders: int = Field(..., description="Sales orders, returns excluded.")
    aov: float = Field(..., description="Average order value: revenue / orders.")
    active_customers: int = Field(..., description="Customers who ordered in the last 90 days of the data.")
    repeat_rate: float = Field(..., description="Share of buying customers with two or more orders.")
    customers: int = Field(..., description="Known customers (with or without orders).")
    customers_with_orders: int
    products: int = Field(..., description="Products for sale (postage and fees excluded).")
    returns_value: float = Field(..., description="Value of returns and cancellations (positive).")
    profiles: int = Field(..., description="Customer profiles from the last `marketloop analyze`.")
    as_of: dt.datetime | None = Field(
        None, description="Time of the last order (figures describe the data, not today)."
    )


class MonthOut(BaseModel):
    month: str = Field(..., description="YYYY-MM")
    revenue: float
    orders: int
    aov: float
    active_customers: int = Field(..., description="Customers who ordered in the month.")
    new_customers: int = Field(..., description="Customers whose first order was in the month.")
    returning_customers: int = Field(..., description="Customers who ordered in the month and before it.")
    repeat_rate: float = Field(..., description="returning_customers / active_customers.")


class OverviewOut(BaseModel):
    kpis: KpisOut
    series: list[MonthOut] = Field(
        ..., description="Completed sales per calendar month, oldest first; empty months are zeros."
    )
    next_step: str | None = Field(
        None, description="What to do next when the store is not fully set up (empty states)."
    )


def next_step(store, models_dir, orders: int, profiles: int) -> str | None:  # noqa: ANN001
    """The setup step still missing, as a hint for empty states (None when everything is in place)."""
    from marketloop.recs.registry import ModelRegistry

    if orders == 0:
        return (
            "Load your data with `marketloop ingest` / `marketloop import`, or try a simulated store with "
            "`marketloop sim generate --load`."
        )
    if profiles == 0:
        return "Run `marketloop analyze` to build customer profiles (segments, value, churn risk)."
    if "trending" not in ModelRegistry(store, models_dir).promoted_versions():
        return "Run `marketloop recs train` to train the recommendation models."
    return None


@router.get("/overview", summary="Headline figures and a monthly sales series", response_model=OverviewOut)
def get_overview(
    request: Request,
    months: Annotated[int, Query(ge=1, le=240, description="Most recent months in the series.")] = 24,
    _: Principal = Depends(require("read")),
) -> OverviewOut:
    state = request.app.state.ml
    store = state.store
    k = overview.kpis(store)
    customers = store.count("customers")
    products = int(
        store.scalar(sa.select(sa.func.count()).select_from(schema.products).where(schema.products.c.is_product)) or 0
    )
    profiles = store.count("customer_profiles")
    kpis = KpisOut(
        revenue=k.revenue,
        orders=k.orders,
        aov=k.average_order_value,
        active_customers=k.active_customers,
        repeat_rate=k.repeat_rate,
        customers=customers,
        customers_with_orders=k.customers_with_orders,
        products=products,
        returns_value=k.returns_value,
        profiles=profiles,
        as_of=k.as_of,
    )
    series = [MonthOut(**row) for row in records(overview.monthly_series(store, months))]
    return OverviewOut(
        kpis=kpis, series=series, next_step=next_step(store, state.settings.models_dir, k.orders, profiles)
    )
