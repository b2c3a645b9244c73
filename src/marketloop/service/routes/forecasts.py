"""Demand forecasts and stock cover: the saved runs, one series with its history, stock risks."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import pandas as pd
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from marketloop.errors import NotFoundError
from marketloop.service.auth import require
from marketloop.service.keys import Principal
from marketloop.service.values import records
from marketloop.store import schema

router = APIRouter(prefix="/v1", tags=["forecasts"])
Level = Literal["store", "category", "product"]


class RunOut(BaseModel):
    run_id: str
    created_at: dt.datetime
    method: str = Field(..., description="lgbm, ets or seasonal_naive")
    freq: str = Field(..., description="D (days) or W (weeks starting Monday)")
    horizon: int
    level: float = Field(..., description="prediction interval level in %")
    history_end: dt.date


class Point(BaseModel):
    ds: dt.date
    forecast: float
    lo: float
    hi: float


class Sold(BaseModel):
    ds: dt.date
    units: float


class SeriesTotal(BaseModel):
    key: str
    forecast: float = Field(..., description="units over the horizon")
    lo: float = Field(..., description="sum of the periods' lower bounds")
    hi: float = Field(..., description="sum of the periods' upper bounds")
    cold_start: bool


class ForecastOut(BaseModel):
    run: RunOut
    level: Level
    key: str | None = None
    series: list[SeriesTotal] = Field(default_factory=list, description="totals per series (without key)")
    history: list[Sold] = Field(
        default_factory=list, description="units sold per period before the forecast (with key)"
    )
    points: list[Point] = Field(default_factory=list, description="the forecast period by period (with key)")
    cold_start: bool = False


class CoverRow(BaseModel):
    product_id: str
    name: str | None = None
    category: str | None = None
    stock: int | None = None
    daily_demand: float
    days_of_cover: float | None = None
    p_stockout: float = Field(..., description="P(demand in the window > stock)")
    window_days: int
    overstock_units: float
    p_overstock: float = Field(..., description="P(stock left after overstock_days)")
    overstock_days: int
    risk: str = Field(..., description="stockout, overstock or ok")


class CoverPage(BaseModel):
    total: int
    counts: dict[str, int] = Field(..., description="products per risk")
    items: list[CoverRow]


def _run(store, run_id: str | None) -> RunOut:  # noqa: ANN001
    from marketloop.forecast.storage import get_run

    run = get_run(store, run_id)
    return RunOut(**{k: v for k, v in run.to_dict().items() if k in RunOut.model_fields})


@router.get("/forecasts/runs", summary="Saved forecast runs, newest first", response_model=list[RunOut])
def list_forecast_runs(request: Request, _: Principal = Depends(require("read"))) -> list[RunOut]:
    from marketloop.forecast.storage import list_runs

    return [
        RunOut(**{k: v for k, v in r.to_dict().items() if k in RunOut.model_fields})
        for r in list_runs(request.app.state.ml.store)
    ]


@router.get(
    "/forecasts",
    summary="A forecast: totals per series of a level, or one series with its history and interval",
    response_model=ForecastOut,
    responses={404: {"description": "no forecast run, or no such series"}},
)
def get_forecast(
    request: Request,
    level: Annotated[Level, Query(description="store, category or product")] = "category",
    key: Annotated[
        str | None, Query(max_length=255, description="One category or product id ('all' for the store).")
    ] = None,
    run_id: Annotated[str | None, Query(max_length=40, description="A run (default: the latest).")] = None,
    history_days: Annotated[int, Query(ge=0, le=730, description="Days of sales before the forecast.")] = 90,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    _: Principal = Depends(require("read")),
) -> ForecastOut:
    from marketloop.forecast.storage import daily_history, read_forecasts

    store = request.app.state.ml.store
    run = _run(store, run_id)
    if level == "store":
        key = "all"
    frame = read_forecasts(store, run.run_id, level=level, keys=[key] if key else None)
    if key is None:
        totals = (
            frame.groupby("key", as_index=False)
            .agg(forecast=("forecast", "sum"), lo=("lo", "sum"), hi=("hi", "sum"), cold_start=("cold_start", "any"))
            .sort_values(["forecast", "key"], ascending=[False, True])
            .head(limit)
        )
        return ForecastOut(run=run, level=level, series=[SeriesTotal(**r) for r in records(totals)])
    if frame.empty:
        raise NotFoundError(
            f"{level} {key!r} has no forecast in run {run.run_id}",
            hint=f"List the {level} forecasts with GET /v1/forecasts?level={level}",
        )
    since = run.history_end - dt.timedelta(days=history_days)
    sold = daily_history(store, level, key, since)
    sold = sold[sold["ds"] <= pd.Timestamp(run.history_end)]
    if run.freq == "W" and len(sold):
        sold = (
            sold.assign(ds=sold["ds"] - pd.to_timedelta(sold["ds"].dt.weekday, unit="D"))
            .groupby("ds", as_index=False)["units"]
            .sum()
        )
    elif len(sold):
        days = pd.date_range(pd.Timestamp(since) + pd.Timedelta(days=1), pd.Timestamp(run.history_end), freq="D")
        sold = sold.set_index("ds")["units"].reindex(days, fill_value=0.0).rename_axis("ds").reset_index()
    points = frame[["ds", "forecast", "lo", "hi"]].assign(ds=frame["ds"].dt.date)
    return ForecastOut(
        run=run,
        level=level,
        key=key,
        history=[
            Sold(ds=pd.Timestamp(d).date(), units=float(u)) for d, u in zip(sold["ds"], sold["units"], strict=True)
        ],
        points=[Point(**r) for r in records(points)],
        cold_start=bool(frame["cold_start"].any()),
    )


@router.get(
    "/inventory",
    summary="Stock cover per product: days of cover, stockout and overstock risk",
    response_model=CoverPage,
)
def get_inventory(
    request: Request,
    risk: Annotated[Literal["stockout", "overstock", "ok"] | None, Query(description="Only this risk.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    _: Principal = Depends(require("read")),
) -> CoverPage:
    store = request.app.state.ml.store
    c, p = schema.stock_cover, schema.products
    counts = store.read_sql(sa.select(c.c.risk, sa.func.count().label("n")).group_by(c.c.risk))
    where = [c.c.risk == risk] if risk else []
    total = int(store.scalar(sa.select(sa.func.count()).select_from(c).where(*where)) or 0)
    rows = store.read_sql(
        sa.select(
            c.c.product_id,
            p.c.name,
            p.c.category,
            c.c.stock,
            c.c.daily_demand,
            c.c.days_of_cover,
            c.c.p_stockout,
            c.c.window_days,
            c.c.overstock_units,
            c.c.p_overstock,
            c.c.overstock_days,
            c.c.risk,
        )
        .select_from(c.outerjoin(p, p.c.product_id == c.c.product_id))
        .where(*where)
        .order_by(c.c.p_stockout.desc(), c.c.overstock_units.desc(), c.c.product_id)
        .limit(limit)
        .offset(offset)
    )
    return CoverPage(
        total=total,
        counts={str(k): int(v) for k, v in zip(counts["risk"], counts["n"], strict=True)},
        items=[CoverRow(**r) for r in records(rows)],
    )
