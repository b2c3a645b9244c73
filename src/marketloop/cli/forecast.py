"""`marketloop forecast ...` (train, show, stock, eval) and `marketloop eval forecast`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from marketloop.cli import evaluate
from marketloop.cli.common import DbOption, JsonOption, console, emit_json, err_console, open_cli_store

app = typer.Typer(
    help="Demand forecasts per product, category and store (with prediction intervals), stock cover "
    "and stockout / overstock risk.",
    no_args_is_help=True,
)

Freq = Annotated[str, typer.Option("--freq", help="D (days) or W (weeks starting Monday).")]
Horizon = Annotated[int, typer.Option("--horizon", "-h", min=1, max=366, help="Periods ahead (days or weeks).")]
Level = Annotated[float, typer.Option("--level", min=50, max=99.9, help="Prediction interval level in %.")]
Method = Annotated[str, typer.Option("--method", help="lgbm (LightGBM + calendar, default), ets or seasonal_naive.")]
MaxProducts = Annotated[
    int | None,
    typer.Option(
        "--max-products", min=1, help="Forecast only the best sellers at product level (categories keep every product)."
    ),
]
Holidays = Annotated[
    str | None,
    typer.Option("--holidays", help="Also use this country's public holidays (ISO code, e.g. GB) as features."),
]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err_console, transient=True
    )


def _store(db: str | None):  # noqa: ANN202
    return open_cli_store(db)


def _table(df, title: str) -> None:  # noqa: ANN001
    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col), justify="right" if df[col].dtype.kind in "fi" else "left")
    for row in df.itertuples(index=False):
        table.add_row(*[f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


@app.command("train")
def train(
    db: DbOption = None,
    freq: Freq = "D",
    horizon: Horizon = 28,
    level: Level = 90.0,
    method: Method = "lgbm",
    holidays: Holidays = None,
    max_products: MaxProducts = None,
    calibration_windows: Annotated[
        int, typer.Option(min=1, max=8, help="Earlier origins the intervals are calibrated on.")
    ] = 2,
    window_days: Annotated[int, typer.Option(min=1, max=365, help="Selling window for the stockout risk.")] = 14,
    overstock_days: Annotated[int, typer.Option(min=1, max=730, help="Period for the overstock risk.")] = 90,
    as_json: JsonOption = False,
) -> None:
    """Forecast every product, category and the store from the store's sales, save the run, and update
    the stock cover (days of cover, stockout and overstock risk) that campaigns and recommendations use."""
    from marketloop.forecast.data import read_sales
    from marketloop.forecast.inventory import save_cover, stock_cover
    from marketloop.forecast.model import DemandForecaster
    from marketloop.forecast.storage import save_run

    store = _store(db)
    forecaster = DemandForecaster(
        freq=freq.upper(),
        horizon=horizon,
        level=level,
        method=method,
        holiday_country=holidays,
        calibration_windows=calibration_windows,
        max_products=max_products,
    )
    forecaster._validate()
    with _progress() as progress:
        progress.add_task("reading sales and fitting (calibration windows first)")
        history = read_sales(store)
        forecaster.fit(history)
        run = save_run(store, forecaster)
        cover = stock_cover(store, run, window_days=window_days, overstock_days=overstock_days)
        save_cover(store, cover, run.run_id)
    risks = cover["risk"].value_counts().to_dict() if len(cover) else {}
    payload = {**run.to_dict(), "stock_cover": {"products": len(cover), **{str(k): int(v) for k, v in risks.items()}}}
    if as_json:
        emit_json(payload)
        return
    console.print(
        f"Saved forecast run [bold]{run.run_id}[/] ({run.method}, {run.horizon} x {run.freq}, {run.level:g} % intervals)"
    )
    console.print(f"History to {run.history_end}; series: {run.metrics['series']}")
    if len(cover):
        console.print(f"Stock cover for {len(cover)} products: {risks}")


@app.command("show")
def show(
    db: DbOption = None,
    level: Annotated[str, typer.Option(help="store, category or product.")] = "category",
    key: Annotated[str | None, typer.Option(help="One category or product id: show its periods.")] = None,
    run: Annotated[str | None, typer.Option(help="A run id (default: the latest).")] = None,
    runs: Annotated[bool, typer.Option("--runs", help="List the saved runs instead.")] = False,
    top: Annotated[int, typer.Option(min=1, max=10_000, help="Series to list (largest first).")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show a saved forecast: totals over the horizon per series, or one series period by period."""
    from marketloop.forecast.storage import get_run, list_runs, read_forecasts

    store = _store(db)
    if runs:
        found = [r.to_dict() for r in list_runs(store)]
        if as_json:
            emit_json({"runs": found})
            return
        import pandas as pd

        frame = pd.DataFrame(
            found, columns=["run_id", "created_at", "method", "freq", "horizon", "level", "history_end"]
        )
        _table(frame[["run_id", "created_at", "method", "freq", "horizon", "level", "history_end"]], "Forecast runs")
        return
    found_run = get_run(store, run)
    frame = read_forecasts(store, found_run.run_id, level=level, keys=[key] if key else None)
    if key and frame.empty:
        from marketloop.errors import NotFoundError

        raise NotFoundError(
            f"{level} {key!r} has no forecast in run {found_run.run_id}",
            hint=f"List the {level} forecasts with: marketloop forecast show --level {level}",
        )
    if key:
        out = frame[["ds", "forecast", "lo", "hi", "cold_start"]].assign(ds=frame["ds"].dt.date.astype(str))
        title = f"{level} {key}: {found_run.level:g} % intervals (run {found_run.run_id})"
    else:
        out = (
            frame.groupby("key", as_index=False)
            .agg(forecast=("forecast", "sum"), lo=("lo", "sum"), hi=("hi", "sum"), cold_start=("cold_start", "any"))
            .sort_values("forecast", ascending=False)
            .head(top)
        )
        title = f"{level} forecasts, units over {found_run.horizon} x {found_run.freq} (sum of period bounds; run {found_run.run_id})"
    if as_json:
        emit_json({"run": found_run.to_dict(), "level": level, "key": key, "rows": out.to_dict(orient="records")})
        return
    _table(out, title)


@app.command("stock")
def stock(
    db: DbOption = None,
    risk: Annotated[str | None, typer.Option(help="Only stockout, overstock or ok.")] = None,
    top: Annotated[int, typer.Option(min=1, max=100_000)] = 30,
    as_json: JsonOption = False,
) -> None:
    """Stock cover per product from the last `forecast train`: days of cover, stockout and overstock risk."""
    import sqlalchemy as sa

    from marketloop.errors import InputError
    from marketloop.store import schema

    if risk is not None and risk not in ("stockout", "overstock", "ok"):
        raise InputError(
            f"--risk: expected stockout, overstock or ok, got {risk!r}",
            field="risk",
            value=risk,
            hint="e.g. --risk stockout",
        )
    store = _store(db)
    c = schema.stock_cover
    query = sa.select(c).order_by(c.c.p_stockout.desc(), c.c.product_id)
    if risk:
        query = query.where(c.c.risk == risk)
    frame = store.read_sql(query.limit(top))
    if as_json:
        emit_json({"products": frame.drop(columns=["computed_at"]).to_dict(orient="records")})
        return
    if frame.empty:
        console.print("No stock cover yet: run `marketloop forecast train` on a store whose products have stock.")
        return
    _table(
        frame[
            [
                "product_id",
                "stock",
                "daily_demand",
                "days_of_cover",
                "p_stockout",
                "overstock_units",
                "p_overstock",
                "risk",
            ]
        ],
        "Stock cover",
    )


def run_eval(
    *,
    db: str | None,
    uci: Path | None,
    freq: str,
    horizon: int,
    level: float,
    origins: int,
    step: int | None,
    calibration_windows: int,
    holidays: str | None,
    as_json: bool,
    max_products: int | None = None,
) -> dict:
    from marketloop.forecast.backtest import backtest, default_origins
    from marketloop.forecast.data import read_sales
    from marketloop.forecast.model import DemandForecaster

    forecaster = DemandForecaster(
        freq=freq.upper(),
        horizon=horizon,
        level=level,
        holiday_country=holidays,
        calibration_windows=calibration_windows,
    )
    forecaster._validate()
    with _progress() as progress:
        task = progress.add_task("loading data")
        if uci is not None:
            from marketloop.forecast.datasets import load_uci

            tmp = tempfile.TemporaryDirectory(prefix="marketloop-uci-")
            store = load_uci(uci, Path(tmp.name) / "uci.duckdb")
        else:
            tmp = None
            store = _store(db)
        history = read_sales(store)
        chosen = default_origins(history, horizon, origins, step or max(1, horizon // 2), forecaster.freq)
        result = backtest(
            history,
            forecaster,
            chosen,
            on_origin=lambda k, n, o: progress.update(task, description=f"origin {k + 1}/{n}: {o.date()}"),
        )
        store.close()
        if tmp is not None:
            tmp.cleanup()
    payload = {"data": str(uci) if uci else "store", **result.to_dict()}
    if as_json:
        emit_json(payload)
        return payload
    summary = result.summary()
    _table(summary, f"Rolling-origin backtest: {len(chosen)} origins, {horizon} x {freq} ahead, {level:g} % intervals")
    console.print(f"Origins: {', '.join(result.origins)}; {result.seconds:.0f} s")
    return payload


EvalOrigins = Annotated[int, typer.Option("--origins", min=1, max=52, help="Forecast origins (rolling).")]
EvalStep = Annotated[int | None, typer.Option("--step", min=1, help="Periods between origins (default: horizon / 2).")]


@app.command("eval")
def evaluate_store(
    db: DbOption = None,
    uci: Annotated[
        Path | None, typer.Option("--uci", help="Evaluate on a UCI Online Retail file instead of the store.")
    ] = None,
    freq: Freq = "D",
    horizon: Horizon = 28,
    level: Level = 90.0,
    origins: EvalOrigins = 4,
    step: EvalStep = None,
    calibration_windows: Annotated[int, typer.Option(min=1, max=8)] = 1,
    holidays: Holidays = None,
    max_products: MaxProducts = None,
    as_json: JsonOption = False,
) -> None:
    """Demand forecasts: rolling-origin backtest (MASE, interval coverage per level) against seasonal naive
    and ETS in the same run, on the store or on UCI Online Retail (--uci FILE)."""
    run_eval(
        db=db,
        uci=uci,
        freq=freq,
        horizon=horizon,
        level=level,
        origins=origins,
        step=step,
        calibration_windows=calibration_windows,
        holidays=holidays,
        as_json=as_json,
        max_products=max_products,
    )


# the same command as `marketloop eval forecast`, next to the other evaluations
evaluate.app.command("forecast")(evaluate_store)
