"""Forecast runs in the store: ``forecast_runs`` (one row per run) and ``forecasts`` (its periods)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.errors import InputError, NotFoundError
from marketloop.forecast.model import LEVELS, DemandForecaster
from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.engine import Store


@dataclass
class ForecastRun:
    run_id: str
    created_at: dt.datetime
    freq: str
    horizon: int
    level: float
    method: str
    history_end: dt.date
    config: dict
    metrics: dict

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat(),
            "freq": self.freq,
            "horizon": self.horizon,
            "level": self.level,
            "method": self.method,
            "history_end": self.history_end.isoformat(),
            "config": self.config,
            "metrics": self.metrics,
        }


def save_run(store: Store, forecaster: DemandForecaster, now: dt.datetime | None = None) -> ForecastRun:
    """Write a fitted forecaster's forecasts as a new run (one transaction)."""
    now = now or utcnow()
    run_id = f"fc-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    frame = forecaster.predict()
    frame = frame.assign(
        run_id=run_id, ds=pd.to_datetime(frame["ds"]).dt.date, cold_start=frame["cold_start"].astype(bool)
    )
    metrics = {
        "interval_quantiles": {k: round(v, 4) for k, v in forecaster.quantiles_.items()},
        "calibration_errors": forecaster.calibration_errors_,
        "series": forecaster.n_series_,
        "cold_start_products": int(
            frame.loc[frame["level"] == "product", "cold_start"].groupby(frame["key"]).any().sum()
        ),
    }
    run = ForecastRun(
        run_id=run_id,
        created_at=now,
        freq=forecaster.freq,
        horizon=forecaster.horizon,
        level=float(forecaster.level),
        method=forecaster.method,
        history_end=pd.Timestamp(forecaster.history_end_).date(),
        config=forecaster.get_params(),
        metrics=metrics,
    )
    with store.begin() as conn:
        conn.execute(
            schema.forecast_runs.insert().values(
                run_id=run_id,
                created_at=now,
                freq=run.freq,
                horizon=run.horizon,
                level=run.level,
                method=run.method,
                history_end=run.history_end,
                config_json=json.dumps(run.config, default=str),
                metrics_json=json.dumps(metrics),
            )
        )
        insert_frame(
            conn, schema.forecasts, frame[["run_id", "level", "key", "ds", "forecast", "lo", "hi", "cold_start"]]
        )
    return run


def _run_from_row(row: pd.Series) -> ForecastRun:
    return ForecastRun(
        run_id=str(row["run_id"]),
        created_at=pd.Timestamp(row["created_at"]).to_pydatetime(),
        freq=str(row["freq"]),
        horizon=int(row["horizon"]),
        level=float(row["level"]),
        method=str(row["method"]),
        history_end=pd.Timestamp(row["history_end"]).date(),
        config=json.loads(row["config_json"]),
        metrics=json.loads(row["metrics_json"] or "{}"),
    )


def list_runs(store: Store, limit: int = 20) -> list[ForecastRun]:
    r = schema.forecast_runs
    rows = store.read_sql(sa.select(r).order_by(r.c.created_at.desc(), r.c.run_id.desc()).limit(limit))
    return [_run_from_row(row) for _, row in rows.iterrows()]


def get_run(store: Store, run_id: str | None = None) -> ForecastRun:
    """The run ``run_id``, or the latest one."""
    r = schema.forecast_runs
    query = sa.select(r)
    query = query.where(r.c.run_id == run_id) if run_id else query.order_by(r.c.created_at.desc(), r.c.run_id.desc())
    rows = store.read_sql(query.limit(1))
    if rows.empty:
        if run_id:
            raise NotFoundError(
                f"forecast run {run_id!r} not found", hint="List the runs with: marketloop forecast show --runs"
            )
        raise NotFoundError("the store has no forecasts yet", hint="Train one with: marketloop forecast train")
    return _run_from_row(rows.iloc[0])


def read_forecasts(store: Store, run_id: str, level: str | None = None, keys: list[str] | None = None) -> pd.DataFrame:
    """The run's periods (level, key, ds, forecast, lo, hi, cold_start), optionally for one level / keys."""
    if level is not None and level not in LEVELS:
        raise InputError(
            f"level: expected one of {', '.join(LEVELS)}, got {level!r}",
            field="level",
            value=level,
            hint="e.g. category",
        )
    f = schema.forecasts
    query = sa.select(f.c.level, f.c.key, f.c.ds, f.c.forecast, f.c.lo, f.c.hi, f.c.cold_start).where(
        f.c.run_id == run_id
    )
    if level is not None:
        query = query.where(f.c.level == level)
    if keys:
        query = query.where(f.c.key.in_([str(k) for k in keys]))
    out = store.read_sql(query.order_by(f.c.level, f.c.key, f.c.ds))
    out["ds"] = pd.to_datetime(out["ds"])
    out["cold_start"] = out["cold_start"].astype(bool)
    return out


def daily_history(store: Store, level: str, key: str, since: dt.date) -> pd.DataFrame:
    """Units sold per day (ds, units) of the store, a category or a product since ``since``."""
    o, lines, p = schema.orders, schema.order_lines, schema.products
    day = sa.cast(o.c.ordered_at, sa.Date).label("ds")
    where = [
        o.c.is_return.is_(False),
        lines.c.quantity > 0,
        p.c.is_product.is_(True),
        o.c.ordered_at >= dt.datetime.combine(since, dt.time()),
    ]
    if level == "product":
        where.append(lines.c.product_id == key)
    elif level == "category":
        where.append(p.c.category.is_(None) if key == "(none)" else p.c.category == key)
    out = store.read_sql(
        sa.select(day, sa.func.sum(lines.c.quantity).label("units"))
        .select_from(lines.join(o, o.c.order_id == lines.c.order_id).join(p, p.c.product_id == lines.c.product_id))
        .where(*where)
        .group_by(day)
        .order_by(day)
    )
    out["ds"] = pd.to_datetime(out["ds"])
    out["units"] = pd.to_numeric(out["units"]).astype(float)
    return out
