"""The demo's forecast step: train a forecast on the simulated store, save it with its stock cover, and
report the store's history, forecast and interval plus the products at risk."""

from __future__ import annotations

from typing import Any

import pandas as pd

from marketloop.report import Section


def demo_step(ctx: Any, horizon: int = 28) -> None:
    import plotly.graph_objects as go

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
    fig = go.Figure()
    fig.add_scatter(x=sold["ds"], y=sold["units"], name="units sold", mode="lines")
    fig.add_scatter(
        x=fc["ds"], y=fc["hi"], name=f"{run.level:g} % interval", mode="lines", line={"width": 0}, showlegend=False
    )
    fig.add_scatter(
        x=fc["ds"], y=fc["lo"], name=f"{run.level:g} % interval", mode="lines", line={"width": 0}, fill="tonexty"
    )
    fig.add_scatter(x=fc["ds"], y=fc["forecast"], name="forecast", mode="lines")
    fig.update_layout(title="Store: units per day, the last 90 days and the forecast", height=360)
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
            charts=[fig],
            tables=[("Products at risk", risky.round(2))],
        )
    )
    ctx.summary["forecast"] = {"run_id": run.run_id, "risks": {str(k): int(v) for k, v in counts.items()}}
