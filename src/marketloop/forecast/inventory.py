"""Stock against the forecast: days of cover, stockout and overstock risk per product.

For each product with known stock and a product forecast in the run:

- **daily demand**: the mean forecast per day over the horizon (weekly runs: per week / 7);
- **days of cover**: stock / daily demand (none when nothing is expected to sell);
- **stockout risk**: P(demand over the next ``window_days`` > stock). Demand over the window is taken
  as negative binomial with the forecast's mean and a variance from the prediction interval (the
  interval's half-width over z of the level gives each period's standard deviation; periods are
  added as independent), never below the mean (Poisson) -- the usual model for counts that are
  more variable than Poisson;
- **overstock risk**: P(demand over ``overstock_days`` < stock), the chance that units are still on
  the shelf after that period; ``overstock_units`` is stock minus the expected demand over it.
  Beyond the horizon the daily rate and variance of the horizon are carried on.

``risk`` is ``stockout`` when P(stockout) >= ``stockout_threshold`` (likely to sell out within the
window), ``overstock`` when P(overstock) >= ``overstock_threshold`` and at least one unit is in excess,
else ``ok``. :func:`save_cover` writes the result to ``stock_cover``, which the recommender's business
rules (``min_days_of_cover``) and campaign product choice read.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats

from marketloop.clock import utcnow
from marketloop.errors import InputError
from marketloop.forecast.storage import ForecastRun, get_run, read_forecasts
from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.engine import Store

COLUMNS = [
    "product_id",
    "stock",
    "daily_demand",
    "days_of_cover",
    "window_days",
    "p_stockout",
    "overstock_days",
    "overstock_units",
    "p_overstock",
    "risk",
]


def demand_distribution(mean: np.ndarray, var: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """P(D <= threshold) for counts D with the given mean and variance (negative binomial; Poisson when
    the variance does not exceed the mean)."""
    mean = np.maximum(np.asarray(mean, dtype=float), 1e-9)
    var = np.maximum(np.asarray(var, dtype=float), mean * (1 + 1e-6))
    p = mean / var
    n = mean * p / (1 - p)
    return stats.nbinom.cdf(np.floor(threshold), n, p)


def stock_cover(
    store: Store,
    run: ForecastRun | None = None,
    *,
    window_days: int = 14,
    overstock_days: int = 90,
    stockout_threshold: float = 0.5,
    overstock_threshold: float = 0.8,
) -> pd.DataFrame:
    """Per product with known stock: the columns of ``stock_cover`` (see the module doc)."""
    for name, value, lo, hi in (("window_days", window_days, 1, 365), ("overstock_days", overstock_days, 1, 730)):
        if not lo <= value <= hi:
            raise InputError(f"{name}: expected {lo}-{hi} days, got {value}", field=name, value=value, hint="e.g. 14")
    run = run or get_run(store)
    fc = read_forecasts(store, run.run_id, level="product")
    p = schema.products
    stock = store.read_sql(sa.select(p.c.product_id, p.c.stock).where(p.c.is_product.is_(True), p.c.stock.is_not(None)))
    stock["product_id"] = stock["product_id"].astype(str)
    if fc.empty or stock.empty:
        return pd.DataFrame(columns=COLUMNS)
    days_per_period = 7.0 if run.freq == "W" else 1.0
    z = stats.norm.ppf(0.5 + run.level / 200.0)
    fc["sd"] = (fc["hi"] - fc["lo"]) / (2 * z)
    per = fc.groupby("key").agg(mean=("forecast", "mean"), var=("sd", lambda s: float((s**2).mean())))
    per["mean"] /= days_per_period
    per["var"] /= days_per_period  # variance of one day's demand, periods split evenly into days
    frame = stock.merge(per, left_on="product_id", right_index=True, how="inner")
    units = frame["stock"].clip(lower=0).astype(float).to_numpy()
    mean, var = frame["mean"].to_numpy(), frame["var"].to_numpy()
    p_stockout = 1.0 - demand_distribution(mean * window_days, var * window_days, units)
    p_stockout = np.where(units <= 0, 1.0, p_stockout)
    left = demand_distribution(mean * overstock_days, var * overstock_days, units - 1)
    p_overstock = np.where(units <= 0, 0.0, left)
    excess = np.maximum(0.0, units - mean * overstock_days)
    cover = np.where(mean > 1e-9, units / np.maximum(mean, 1e-9), np.nan)
    risk = np.where(
        p_stockout >= stockout_threshold,
        "stockout",
        np.where((p_overstock >= overstock_threshold) & (excess >= 1.0), "overstock", "ok"),
    )
    out = pd.DataFrame(
        {
            "product_id": frame["product_id"].to_numpy(),
            "stock": units.astype(int),
            "daily_demand": mean,
            "days_of_cover": cover,
            "window_days": window_days,
            "p_stockout": p_stockout,
            "overstock_days": overstock_days,
            "overstock_units": excess,
            "p_overstock": p_overstock,
            "risk": risk,
        }
    )
    out.attrs["run_id"] = run.run_id
    return out.sort_values(["risk", "p_stockout"], ascending=[True, False], ignore_index=True)


def save_cover(store: Store, cover: pd.DataFrame, run_id: str, now: dt.datetime | None = None) -> int:
    """Replace ``stock_cover`` with ``cover`` (one transaction)."""
    now = now or utcnow()
    frame = cover.assign(run_id=run_id, computed_at=now)
    frame["days_of_cover"] = (
        frame["days_of_cover"].astype(float).where(np.isfinite(frame["days_of_cover"].astype(float)))
    )
    with store.begin() as conn:
        conn.execute(schema.stock_cover.delete())
        if len(frame):
            insert_frame(conn, schema.stock_cover, frame[["run_id", "computed_at", *COLUMNS]])
    return len(frame)


def sellout_risk_products(store: Store, window_days: int, threshold: float = 0.5) -> set[str]:
    """Products likely to sell out within ``window_days`` (from the saved ``stock_cover``): their cover
    is shorter than the window, or their stockout risk over it is at least ``threshold``."""
    c = schema.stock_cover
    rows = store.read_sql(sa.select(c.c.product_id, c.c.days_of_cover, c.c.window_days, c.c.p_stockout))
    if rows.empty:
        return set()
    short = rows["days_of_cover"].notna() & (rows["days_of_cover"].astype(float) < window_days)
    likely = (rows["window_days"] == window_days) & (rows["p_stockout"] >= threshold)
    return set(rows.loc[short | likely, "product_id"].astype(str))


def overstocked(
    store: Store, categories: list[str] | None = None, product_ids: list[str] | None = None
) -> pd.DataFrame:
    """Saved overstock positions (product_id, category, stock, overstock_units, p_overstock) for the
    given categories and / or products (all overstocked products when both are None)."""
    c, p = schema.stock_cover, schema.products
    query = (
        sa.select(c.c.product_id, p.c.category, c.c.stock, c.c.overstock_units, c.c.p_overstock, c.c.daily_demand)
        .select_from(c.join(p, p.c.product_id == c.c.product_id))
        .where(c.c.overstock_units > 0)
    )
    scope = []
    if categories:
        scope.append(p.c.category.in_(categories))
    if product_ids:
        scope.append(c.c.product_id.in_(product_ids))
    if scope:
        query = query.where(sa.or_(*scope))
    else:
        query = query.where(c.c.risk == "overstock")
    out = store.read_sql(query)
    out["product_id"] = out["product_id"].astype(str)
    return out
