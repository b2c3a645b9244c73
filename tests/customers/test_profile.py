"""`marketloop analyze`, the profile table and the commands that read it, on a small synthetic store."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app, run
from marketloop.customers.profile import PROFILE_COLUMNS, get_profile, load_profiles
from marketloop.customers.rfm import SEGMENTS
from marketloop.errors import NotFoundError
from marketloop.store import open_store, schema

from .conftest import synthetic_orders

runner = CliRunner()


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    """A store with ~400 synthetic customers, analysed once through the CLI."""
    orders, lines, products = synthetic_orders()
    path = tmp_path_factory.mktemp("shop") / "shop.duckdb"
    url = f"duckdb:///{path}"
    with open_store(url) as st, st.begin() as conn:
        conn.execute(schema.products.insert(), products)
        conn.execute(schema.orders.insert(), orders)
        conn.execute(schema.order_lines.insert(), lines)
        conn.execute(schema.events.insert(), [
            {"event_id": f"e{i}", "customer_id": "c1", "event_type": "add_to_cart", "product_id": "p6",
             "ts": dt.datetime(2024, 6, 20)} for i in range(5)
        ])
    result = runner.invoke(app, ["analyze", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    return url, json.loads(result.stdout), orders


def test_report_says_which_model_won(analyzed):
    _, report, orders = analyzed
    assert report["as_of"] == "2024-06-30"
    for key in ("churn", "propensity"):
        assert report[key]["winner"] in ("lightgbm", "bgnbd")
        assert set(report[key]["validation"]) == {"lightgbm", "bgnbd"}
        assert report[key]["validation"]["lightgbm"]["roc_auc"] > 0.7
    assert report["data"]["guest_orders"] == sum(o["customer_id"] is None for o in orders)
    assert report["clv"]["params"]["r"] > 0


def test_profiles_table(analyzed):
    url, report, orders = analyzed
    with open_store(url) as st:
        profiles = load_profiles(st)
    known = {o["customer_id"] for o in orders if o["customer_id"] and not o["is_return"]}
    assert list(profiles.columns) == list(PROFILE_COLUMNS)
    assert set(profiles["customer_id"]) == known and profiles["customer_id"].is_unique
    assert set(profiles["segment"]) <= set(SEGMENTS)
    assert set(profiles["churn_band"]) <= {"low", "medium", "high", "very_high"}
    assert profiles["churn_probability"].between(0, 1).all() and profiles["propensity_30d"].between(0, 1).all()
    assert (profiles["clv_low"] <= profiles["clv_high"]).all()
    assert profiles["high_value"].mean() == pytest.approx(0.10, abs=0.02)
    # the high-value flag follows predicted value, not only past spend
    assert profiles.loc[profiles["high_value"], "clv"].min() >= profiles.loc[~profiles["high_value"], "clv"].max()
    # customers who bought recently are less likely to churn than lapsed ones
    recent = profiles["recency_days"] < 30
    assert profiles.loc[recent, "churn_probability"].mean() < profiles.loc[profiles["recency_days"] > 180, "churn_probability"].mean()


def test_best_customer_profile(analyzed):
    url, _, _ = analyzed
    with open_store(url) as st:
        c0 = get_profile(st, "c0")
    assert c0["segment"] == "Champions" and bool(c0["high_value"])
    assert c0["churn_band"] == "low" and c0["p_alive"] > 0.9
    assert c0["next_order_at"] is not None and c0["next_order_at"] - dt.date(2024, 6, 30) < dt.timedelta(days=30)
    assert json.loads(c0["interests_json"])["category"][0]["value"] == "garden"


def test_cli_show_and_segments(analyzed):
    url, _, _ = analyzed
    shown = runner.invoke(app, ["customers", "show", "c0", "--db", url, "--json"])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["segment"] == "Champions" and isinstance(doc["churn_reasons"], list)
    table = runner.invoke(app, ["segments", "--db", url])
    assert table.exit_code == 0 and "Champions" in table.stdout and "Churn-risk bands" in table.stdout
    seg = json.loads(runner.invoke(app, ["segments", "--db", url, "--json"]).stdout)
    assert sum(s["customers"] for s in seg["segments"]) == seg["customers"]
    assert sum(s["revenue_share"] for s in seg["segments"]) == pytest.approx(1.0, abs=1e-3)


def test_unknown_customer_is_a_clean_error(analyzed, monkeypatch, capsys):
    url, _, _ = analyzed
    with open_store(url) as st, pytest.raises(NotFoundError, match="No profile for customer 'nobody'"):
        get_profile(st, "nobody")
    monkeypatch.setattr(sys, "argv", ["marketloop", "customers", "show", "nobody", "--db", url])
    with pytest.raises(SystemExit) as exit_info:
        run()
    assert exit_info.value.code == NotFoundError.exit_code
    assert "No profile for customer 'nobody'" in capsys.readouterr().err


def test_analyze_empty_store_and_segments_before_analyze(tmp_path):
    url = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    result = runner.invoke(app, ["analyze", "--db", url])
    assert result.exit_code != 0 and "the store has no orders" in str(result.exception)
    result = runner.invoke(app, ["segments", "--db", url])
    assert "no customer profiles yet" in str(result.exception)
