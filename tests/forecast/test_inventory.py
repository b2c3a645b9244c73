"""Stock against the forecast: days of cover and risks from a saved run; the recommender's rule and campaign
products leave out what is likely to sell out; the CLI and the API show it; bad input is refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.errors import InputError, NotFoundError
from marketloop.forecast.data import read_sales
from marketloop.forecast.inventory import demand_distribution, save_cover, sellout_risk_products, stock_cover
from marketloop.forecast.model import DemandForecaster
from marketloop.forecast.storage import get_run, list_runs, read_forecasts, save_run


@pytest.fixture(scope="module")
def with_run(known_store):
    model = DemandForecaster(horizon=28, calibration_windows=1, n_estimators=40, n_jobs=1).fit(read_sales(known_store))
    run = save_run(known_store, model)
    cover = stock_cover(known_store, run, window_days=14, overstock_days=90)
    save_cover(known_store, cover, run.run_id)
    return known_store, run, cover


def test_negative_binomial_matches_poisson_and_widens() -> None:
    from scipy import stats

    assert demand_distribution(np.array([10.0]), np.array([10.0]), np.array([12]))[0] == pytest.approx(
        stats.poisson.cdf(12, 10), abs=1e-3
    )
    wide = demand_distribution(np.array([10.0]), np.array([40.0]), np.array([20]))[0]
    assert wide < stats.poisson.cdf(20, 10)  # more variance: more chance of a big demand


def test_stock_cover_and_risks(with_run) -> None:
    _, _, cover = with_run
    c = cover.set_index("product_id")
    # P1 sells ~33 a day against 200 in stock: ~6 days of cover, sells out within 14 days
    assert (
        4 < c.loc["P1", "days_of_cover"] < 9 and c.loc["P1", "p_stockout"] > 0.95 and c.loc["P1", "risk"] == "stockout"
    )
    # P2: 5000 units against ~13 a day: overstock, thousands of excess units after 90 days
    assert (
        c.loc["P2", "risk"] == "overstock"
        and c.loc["P2", "overstock_units"] > 3000
        and c.loc["P2", "p_overstock"] > 0.99
    )
    # P3 is out of stock already
    assert c.loc["P3", "p_stockout"] == 1.0 and c.loc["P3", "risk"] == "stockout"


def test_saved_runs_read_back(with_run) -> None:
    store, run, _ = with_run
    assert get_run(store).run_id == run.run_id and list_runs(store)[0].run_id == run.run_id
    fc = read_forecasts(store, run.run_id, level="category")
    assert set(fc["key"]) == {"home", "garden"} and len(fc) == 56
    with pytest.raises(NotFoundError, match="not found"):
        get_run(store, "fc-nope")
    with pytest.raises(InputError, match="level: expected one of store, category, product"):
        read_forecasts(store, run.run_id, level="brand")


def test_sellout_rule_in_recommender_and_campaign_products(with_run) -> None:
    store, _, _ = with_run
    assert sellout_risk_products(store, window_days=14) == {"P1", "P3"}
    assert sellout_risk_products(store, window_days=3) == {"P3"}  # P1's 6 days cover a 3-day window

    from marketloop.recs.rules import Rules, apply_rules
    from marketloop.recs.service import read_catalog

    catalog = read_catalog(store, np.array(["P1", "P2", "P3"]))
    order = np.array([catalog.items.tolist().index(p) for p in ("P1", "P2", "P3")])
    kept, _ = apply_rules(
        order, np.array([3.0, 2.0, 1.0]), catalog, Rules(exclude_out_of_stock=False, min_days_of_cover=14), n=3
    )
    assert catalog.items[kept].tolist() == ["P2"]
    kept, _ = apply_rules(order, np.array([3.0, 2.0, 1.0]), catalog, Rules(exclude_out_of_stock=False), n=3)
    assert catalog.items[kept].tolist() == ["P1", "P2", "P3"]  # the rule is off by default

    from marketloop.strategy.products import featured_products

    assert featured_products(store, ["X"], n=3) == {"X": ["P1", "P2"]}  # in stock, best sellers first
    assert featured_products(store, ["X"], n=3, window_days=14) == {"X": ["P2"]}  # P1 sells out in the window


def test_cli_show_stock_and_errors(with_run, tmp_path) -> None:
    store, run, _ = with_run
    url = str(store.url)
    runner = CliRunner()
    empty = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    assert runner.invoke(app, ["db", "migrate", "--db", empty]).exit_code == 0
    out = runner.invoke(app, ["forecast", "show", "--db", url, "--level", "product", "--key", "P1", "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["run"]["run_id"] == run.run_id and len(body["rows"]) == 28
    out = runner.invoke(app, ["forecast", "stock", "--db", url, "--risk", "overstock", "--json"])
    assert out.exit_code == 0 and [r["product_id"] for r in json.loads(out.stdout)["products"]] == ["P2"]
    for args, message in (
        (["forecast", "stock", "--db", url, "--risk", "soon"], "--risk: expected stockout, overstock or ok"),
        (["forecast", "show", "--db", url, "--level", "product", "--key", "NOPE"], "has no forecast in run"),
        (["forecast", "show", "--db", empty], "no forecasts yet"),
    ):
        res = runner.invoke(app, args)
        assert res.exit_code != 0 and message in str(res.exception or res.output), (args, res.output)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"window_days": 0}, "window_days: expected 1-365"), ({"overstock_days": 1000}, "overstock_days: expected 1-730")],
)
def test_bad_cover_settings(with_run, kwargs, message) -> None:
    store, run, _ = with_run
    with pytest.raises(InputError, match=message):
        stock_cover(store, run, **kwargs)


def test_api_and_demand_factor(with_run) -> None:
    store, run, _ = with_run
    from marketloop.forecast.baseline import demand_factor

    end = run.history_end
    f = demand_factor(store, end + pd.Timedelta(days=1), end - pd.Timedelta(days=27), 14)
    assert f.run_id == run.run_id and 0.8 < f.factor < 1.25  # a steady store: about as busy as before
    assert demand_factor(store, end + pd.Timedelta(days=200), end, 7).factor == 1.0
