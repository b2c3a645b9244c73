"""The forecaster on a series with a known answer: it recovers a planted weekly season and holiday effect,
its products add up to categories and the store, intervals cover, and bad settings are refused."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from marketloop.errors import InputError
from marketloop.forecast.data import read_sales
from marketloop.forecast.model import DemandForecaster
from tests.forecast.conftest import BASE, HOLIDAY_EFFECT, START, WEEKDAY, holidays

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def fitted(known_store):
    history = read_sales(known_store)
    return DemandForecaster(horizon=28, calibration_windows=1, n_estimators=60, n_jobs=1).fit(history)


def test_recovers_weekly_season_and_holiday_effect(fitted) -> None:
    fc = fitted.predict()
    p1 = fc[(fc["level"] == "product") & (fc["key"] == "P1")].set_index("ds")["forecast"]
    assert len(p1) == 28
    days = [d.date() for d in p1.index]
    hol = set(holidays())
    assert any(d in hol for d in days), "the horizon must hold a planted holiday"
    plain = p1[[d not in hol for d in days]]
    profile = plain.groupby(plain.index.weekday).mean()
    profile = profile / profile.mean()
    planted = WEEKDAY / WEEKDAY.mean()
    # weekday profile within 12 % of the planted one on every weekday
    assert np.max(np.abs(profile.to_numpy() / planted - 1)) < 0.12, profile.round(3).tolist()
    # holiday effect: a holiday's forecast over the same weekday's ordinary days, within 20 %
    ratios = []
    for d, v in p1.items():
        if d.date() in hol:
            same = plain[plain.index.weekday == d.weekday()]
            ratios.append(v / same.mean())
    assert abs(np.mean(ratios) / HOLIDAY_EFFECT - 1) < 0.2, ratios
    # the level: the planted mean demand within 10 %
    expected = BASE["P1"] * np.mean([WEEKDAY[d.weekday()] * (HOLIDAY_EFFECT if d in hol else 1) for d in days])
    assert abs(p1.mean() / expected - 1) < 0.10


def test_products_add_up_to_categories_and_store(fitted) -> None:
    fc = fitted.predict()
    fc = fc[~fc["cold_start"]]
    by = {lv: part.pivot_table(index="ds", columns="key", values="forecast") for lv, part in fc.groupby("level")}
    home = by["product"][["P1", "P2"]].sum(axis=1)
    assert np.allclose(home, by["category"]["home"], rtol=1e-6)
    assert np.allclose(by["product"].sum(axis=1), by["store"]["all"], rtol=1e-6)
    assert (fc["lo"] <= fc["forecast"] + 1e-9).all() and (fc["forecast"] <= fc["hi"] + 1e-9).all()
    assert (fc["lo"] >= 0).all()


def test_interval_covers_what_was_sold(known_store) -> None:
    """Fit on all but the last 28 days and check the 90 % intervals against them (Poisson data)."""
    history = read_sales(known_store)
    cut = history.end - pd.Timedelta(days=28)
    model = DemandForecaster(horizon=28, calibration_windows=2, n_estimators=60, n_jobs=1).fit(history.until(cut))
    fc = model.predict()
    sales = history.sales.assign(ds=history.sales["ds"])
    p = fc[fc["level"] == "product"].merge(
        sales.rename(columns={"product_id": "key"})[["key", "ds", "units"]], on=["key", "ds"], how="left"
    )
    p["units"] = p["units"].fillna(0)
    coverage = ((p["units"] >= p["lo"]) & (p["units"] <= p["hi"])).mean()
    assert 0.75 <= coverage <= 1.0, coverage


def test_max_products_keeps_the_best_sellers_and_the_category_totals(known_store, fitted) -> None:
    fc = (
        DemandForecaster(horizon=28, calibration_windows=1, n_estimators=60, n_jobs=1, max_products=1)
        .fit(read_sales(known_store))
        .predict()
    )
    assert set(fc.loc[fc["level"] == "product", "key"]) == {"P1"}
    # the category forecast is its own model's either way (middle-out keeps the middle level)
    home = fc[(fc["level"] == "category") & (fc["key"] == "home")]["forecast"].to_numpy()
    full = fitted.predict()
    assert np.allclose(
        home, full[(full["level"] == "category") & (full["key"] == "home")]["forecast"].to_numpy(), rtol=1e-6
    )


def test_cold_start_product_gets_a_share_of_its_category(tmp_path) -> None:
    from tests.forecast.conftest import build_store

    store = build_store(tmp_path / "cold.duckdb")
    from marketloop.store import schema

    with store.begin() as conn:
        conn.execute(
            schema.products.insert().values(
                product_id="NEW",
                name="New lamp",
                category="home",
                price=10.0,
                is_product=True,
                hidden=False,
                created_at=dt.datetime.combine(START + dt.timedelta(days=540), dt.time()),
            )
        )
    fc = DemandForecaster(horizon=14, calibration_windows=1, n_estimators=40, n_jobs=1).fit(read_sales(store)).predict()
    new = fc[(fc["level"] == "product") & (fc["key"] == "NEW")]
    home = fc[(fc["level"] == "category") & (fc["key"] == "home")]
    assert len(new) == 14 and new["cold_start"].all()
    share = new["forecast"].sum() / home["forecast"].sum()
    assert 0.2 < share < 0.8  # the median share of the category's two products (30 and 12 a day)
    store.close()


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"freq": "M"}, "freq", "one of D, W"),
        ({"horizon": 0}, "horizon", "an integer 1-366"),
        ({"level": 100}, "level", "between 50 and 99.9"),
        ({"method": "prophet"}, "method", "one of lgbm, ets, seasonal_naive"),
        ({"calibration_windows": 0}, "calibration_windows", "1-8"),
        ({"max_products": 0}, "max_products", "at least 1"),
        ({"horizon": 300}, "horizon", "needs at least"),
    ],
)
def test_bad_settings_are_refused(known_store, params, field, message) -> None:
    with pytest.raises(InputError, match=message) as info:
        DemandForecaster(**params).fit(read_sales(known_store))
    assert info.value.field == field
