"""Rolling-origin backtest: MASE and interval coverage per level against seasonal naive and ETS.

At each origin the forecaster learns from the sales up to that day only and forecasts the next
``horizon`` periods; seasonal naive and AutoETS (Nixtla ``statsforecast``, their own 90 % intervals)
are fitted on the same series in the same run. For each level (store, categories, products active at
the origin):

- **MASE**: per series, the mean absolute error over the horizon divided by the series' in-sample mean
  absolute seasonal difference (m = 7 for days, 1 for weeks) up to the origin; averaged over the
  series of the level and then over the origins;
- **coverage**: the share of (series, period) actual values inside the interval.

Products first sold less than ``min_history_days`` before the origin are left out of the product
level (they are cold starts with no scale), as are products without sales in the ``active_days``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketloop.forecast.data import UNCATEGORISED, SalesHistory
from marketloop.forecast.model import FREQS, LEVELS, STORE_KEY, DemandForecaster, split_id, statistical_forecasts

BASELINES = ("seasonal_naive", "ets")


@dataclass
class BacktestResult:
    origins: list[str]
    horizon: int
    freq: str
    level: float
    metrics: pd.DataFrame  # origin, level, method, mase, coverage, series
    seconds: float
    config: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per level and method: mean MASE and coverage over the origins, and MASE relative to seasonal naive."""
        out = self.metrics.groupby(["level", "method"], as_index=False).agg(
            mase=("mase", "mean"), coverage=("coverage", "mean"), series=("series", "mean")
        )
        naive = out[out["method"] == "seasonal_naive"].set_index("level")["mase"]
        out["vs_seasonal_naive"] = out["mase"] / out["level"].map(naive) - 1.0
        order = {lv: k for k, lv in enumerate(LEVELS)}
        return out.sort_values(["level", "method"], key=lambda s: s.map(order) if s.name == "level" else s).reset_index(
            drop=True
        )

    def to_dict(self) -> dict:
        return {
            "origins": self.origins,
            "horizon": self.horizon,
            "freq": self.freq,
            "level": self.level,
            "seconds": round(self.seconds, 1),
            "config": self.config,
            "summary": self.summary().round(4).to_dict(orient="records"),
            "per_origin": self.metrics.round(4).to_dict(orient="records"),
        }


def actuals(history: SalesHistory, start: pd.Timestamp, periods: int, freq: str) -> pd.DataFrame:
    """What was sold per product, category and store in the ``periods`` after ``start``."""
    offset = pd.tseries.frequencies.to_offset(FREQS[freq])
    grid = pd.date_range(start + offset, periods=periods, freq=offset)
    last_day = grid[-1] + (pd.Timedelta(days=6) if freq == "W" else pd.Timedelta(0))
    sales = history.sales[(history.sales["ds"] > start + (pd.Timedelta(days=6) if freq == "W" else pd.Timedelta(0)))]
    sales = sales[sales["ds"] <= last_day].copy()
    if freq == "W":
        sales["ds"] = sales["ds"] - pd.to_timedelta(sales["ds"].dt.weekday, unit="D")
    category = history.products.set_index("product_id")["category"]
    sales["category"] = sales["product_id"].map(category).fillna(UNCATEGORISED)
    parts = [
        sales.groupby("ds", as_index=False)["units"].sum().assign(unique_id=STORE_KEY),
        sales.groupby(["category", "ds"], as_index=False)["units"]
        .sum()
        .assign(unique_id=lambda f: "category/" + f["category"].astype(str)),
        sales.groupby(["product_id", "ds"], as_index=False)["units"]
        .sum()
        .assign(unique_id=lambda f: "product/" + f["product_id"].astype(str)),
    ]
    out = pd.concat([p[["unique_id", "ds", "units"]] for p in parts], ignore_index=True)
    return out.rename(columns={"units": "y"})


def score(pred: pd.DataFrame, truth: pd.DataFrame, scales: pd.Series, method: str) -> pd.DataFrame:
    """Per level: MASE (mean over series) and coverage of ``pred`` (unique_id, ds, yhat, lo, hi)."""
    merged = pred.merge(truth, on=["unique_id", "ds"], how="left")
    merged["y"] = merged["y"].fillna(0.0)
    merged["level"] = [split_id(u)[0] for u in merged["unique_id"]]
    merged["abs"] = (merged["y"] - merged["yhat"]).abs()
    merged["inside"] = (merged["y"] >= merged["lo"] - 1e-9) & (merged["y"] <= merged["hi"] + 1e-9)
    per_series = merged.groupby(["level", "unique_id"], as_index=False).agg(
        mae=("abs", "mean"), inside=("inside", "mean")
    )
    per_series["mase"] = per_series["mae"] / per_series["unique_id"].map(scales)
    rows = []
    for lvl, part in per_series.groupby("level"):
        cover = merged.loc[merged["level"] == lvl, "inside"].mean()
        rows.append(
            {
                "level": lvl,
                "method": method,
                "mase": float(part["mase"].mean()),
                "coverage": float(cover),
                "series": len(part),
            }
        )
    return pd.DataFrame(rows)


def default_origins(history: SalesHistory, horizon: int, n_origins: int, step: int, freq: str) -> list[pd.Timestamp]:
    """``n_origins`` origins ``step`` periods apart, the last one ``horizon`` periods before the end."""
    offset = pd.tseries.frequencies.to_offset(FREQS[freq])
    end = pd.Timestamp(history.end).normalize()
    if freq == "W":
        end = end - pd.Timedelta(days=(end.weekday() + 1) % 7) - pd.Timedelta(days=6)
    last = end - offset * horizon
    return sorted(last - offset * (k * step) for k in range(n_origins))


def backtest(
    history: SalesHistory,
    forecaster: DemandForecaster,
    origins: list[pd.Timestamp],
    *,
    on_origin: Callable[[int, int, pd.Timestamp], None] | None = None,
) -> BacktestResult:
    started = time.perf_counter()
    rows = []
    for k, origin in enumerate(origins):
        if on_origin:
            on_origin(k, len(origins), origin)
        past = history.until(origin + (pd.Timedelta(days=6) if forecaster.freq == "W" else pd.Timedelta(0)))
        fitted = _clone(forecaster).fit(past)
        truth = actuals(history, fitted.history_end_, forecaster.horizon, forecaster.freq)
        ours = fitted.predict()
        ours = ours[~ours["cold_start"]]
        ours = ours.assign(
            unique_id=[
                STORE_KEY if lv == "store" else f"{lv}/{key}"
                for lv, key in zip(ours["level"], ours["key"], strict=True)
            ]
        ).rename(columns={"forecast": "yhat"})
        scales = fitted.scales_
        ours = ours[ours["unique_id"].isin(scales.index)]
        rows.append(score(ours, truth, scales, forecaster.method).assign(origin=str(origin.date())))
        series = fitted.series_
        lvl = int(round(forecaster.level))
        base = statistical_forecasts(series, forecaster.horizon, forecaster.freq, list(BASELINES), level=lvl)
        for name in BASELINES:
            pred = base[["unique_id", "ds", name, f"{name}-lo-{lvl}", f"{name}-hi-{lvl}"]].rename(
                columns={name: "yhat", f"{name}-lo-{lvl}": "lo", f"{name}-hi-{lvl}": "hi"}
            )
            rows.append(score(pred, truth, scales, name).assign(origin=str(origin.date())))
    metrics = pd.concat(rows, ignore_index=True)[["origin", "level", "method", "mase", "coverage", "series"]]
    return BacktestResult(
        origins=[str(o.date()) for o in origins],
        horizon=forecaster.horizon,
        freq=forecaster.freq,
        level=forecaster.level,
        metrics=metrics,
        seconds=time.perf_counter() - started,
        config=forecaster.get_params(),
    )


def _clone(forecaster: DemandForecaster) -> DemandForecaster:
    return DemandForecaster(**forecaster.get_params())


def coverage_ok(value: float, level: float, tolerance: float = 5.0) -> bool:
    return bool(np.isfinite(value) and abs(100 * value - level) <= tolerance)
