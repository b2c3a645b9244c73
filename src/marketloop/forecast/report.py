"""The demo's forecast step: train a forecast on the simulated store, save it with its stock cover, and
report the store's history, forecast and interval plus the products at risk."""

from __future__ import annotations

from typing import Any

import pandas as pd

from marketloop.report import Chart, Section, Series


def demo_step(ctx: Any, horizon: int = 28) -> None:
    from marketloop.forecast.data import read_sales
    from marketloop.forecast.inventory import save_cover, stock_cover
    from marketloop.forecast.model import DemandForecaster
    from marketloop.forecast.storage import daily_history, read_forecasts, save_run

    model = DemandForecaster(horizon=horizon, calibration_windows=1, n_estimators=60).fit(read_sales(ctx.store))
    run = save_run(ctx.store, model)
    cover = stock_cover(ctx.store, run)
    save_cover(ctx.store, cover, run.run_id)
    fc = read_forecasts(ctx.store, run.run_id, level="store")
    since = run.history_end - pd.Timedelta(days=90)
    sold = daily_history(ctx.store, "store", "all", since)
    dates = sorted(set(pd.to_datetime(sold["ds"])) | set(pd.to_datetime(fc["ds"])))
    sold_by = dict(zip(pd.to_datetime(sold["ds"]), sold["units"].astype(float), strict=True))
    fc_by = {pd.Timestamp(r.ds): r for r in fc.assign(ds=pd.to_datetime(fc["ds"])).itertuples(index=False)}

    def along(get) -> list[float | None]:  # noqa: ANN001
        return [get(d) for d in dates]

    chart = Chart(
        title="Store: units per day, the last 90 days and the forecast",
        kind="line",
        labels=[d.date().isoformat() for d in dates],
        series=[
            Series("units sold", along(lambda d: sold_by.get(d))),
            Series("forecast", along(lambda d: float(fc_by[d].forecast) if d in fc_by else None)),
            Series(f"{run.level:g} % interval, low", along(lambda d: float(fc_by[d].lo) if d in fc_by else None)),
            Series(f"{run.level:g} % interval, high", along(lambda d: float(fc_by[d].hi) if d in fc_by else None)),
        ],
        x_title="day",
        y_title="units",
        value_format="int",
        label_title="day",
        description="Units sold per day over the last 90 days, then the forecast with its interval.",
    )
    counts = cover["risk"].value_counts().to_dict() if len(cover) else {}
    risky = cover[cover["risk"] != "ok"].head(10)[
        ["product_id", "stock", "daily_demand", "days_of_cover", "p_stockout", "overstock_units", "risk"]
    ]
    ctx.report.add(
        Section(
            title="Demand forecast and stock",
            intro=(
                f"Units per product, category and store for the next {run.horizon} days (LightGBM with the market "
                f"calendar and prices, reconciled products -> categories -> store, {run.level:g} % intervals calibrated "
                "on an earlier window). Campaigns leave out products likely to sell out within their window."
            ),
            figures={
                "Units forecast": f"{fc['forecast'].sum():,.0f}",
                "Likely to sell out": f"{counts.get('stockout', 0):,}",
                "Overstocked": f"{counts.get('overstock', 0):,}",
            },
            charts=[chart],
            tables=[("Products at risk", risky.round(2))],
        )
    )
    ctx.summary["forecast"] = {"run_id": run.run_id, "risks": {str(k): int(v) for k, v in counts.items()}}
