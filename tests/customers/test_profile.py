"""`marketloop analyze`, the profile table and the commands that read it, on a small synthetic store."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app, run
from marketloop.customers.profile import PROFILE_COLUMNS, get_profile, load_profiles
from marketloop.customers.rfm import SEGMENTS
from marketloop.errors import InputError, NotFoundError
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
        conn.execute(
            schema.events.insert(),
            [
                {
                    "event_id": f"e{i}",
                    "customer_id": "c1",
                    "event_type": "add_to_cart",
                    "product_id": "p6",
                    "ts": dt.datetime(2024, 6, 20),
                }
                for i in range(5)
            ],
        )
    result = runner.invoke(app, ["analyze", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    return url, json.loads(result.stdout), orders


def test_report_says_which_model_won(analyzed):
    _, report, orders = analyzed
    assert report["as_of"] == "2024-06-30"
    for key in ("churn", "propensity"):
        assert report[key]["winner"] in ("lightgbm", "bgnbd")
        assert set(report[key]["validation"]) == {"lightgbm", "bgnbd"} | (
            {"bgnbd_calibrated"} if report[key]["winner"] == "bgnbd" else set()
        )
        assert report[key]["validation"]["lightgbm"]["roc_auc"] > 0.7
    assert report["data"]["guest_orders"] == sum(o["customer_id"] is None for o in orders)
    assert report["clv"]["params"]["r"] > 0


def test_churn_bands_are_quantiles_with_observed_rates_and_p_alive_agrees(analyzed):
    """Bands are quantiles of the calibrated churn probability (the riskiest tenth is very_high), each with the
    churn rate observed in it on the latest labelled snapshot; p_alive never says less than the chance of an
    order within the horizon (churn = no order in the next H days, H stated in the report)."""
    url, report, _ = analyzed
    with open_store(url) as st:
        profiles = load_profiles(st)
    shares = profiles["churn_band"].value_counts(normalize=True)
    assert shares.get("very_high", 0) == pytest.approx(0.1, abs=0.04)
    assert shares.get("low", 0) == pytest.approx(0.4, abs=0.06)
    churn = report["churn"]
    assert churn["horizon_days"] == 90
    bands = {b["band"]: b for b in churn["bands"]}
    assert list(bands) == ["low", "medium", "high", "very_high"]
    assert all(0 <= b["observed_rate"] <= 1 for b in bands.values())
    assert bands["very_high"]["observed_rate"] > bands["low"]["observed_rate"]
    assert bands["very_high"]["customers"] == int((profiles["churn_band"] == "very_high").sum())
    assert churn["calibration"]["reliability"] and churn["calibration"]["snapshot"] == "2024-04-01"
    assert (profiles["p_alive"] >= 1 - profiles["churn_probability"] - 1e-9).all()


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
    assert (
        profiles.loc[recent, "churn_probability"].mean()
        < profiles.loc[profiles["recency_days"] > 180, "churn_probability"].mean()
    )
    # activity: orders count, and so do events (c1's add-to-cart events of 2024-06-20); the stage rule
    # itself is tested in test_lifecycle.py
    by_id = profiles.set_index("customer_id")
    assert (by_id["last_active_at"] >= by_id["last_order_at"]).all()
    c1 = by_id.loc["c1"]
    assert c1["last_active_at"] == max(c1["last_order_at"], pd.Timestamp(2024, 6, 20))
    assert c1["days_inactive"] == (dt.date(2024, 6, 30) - c1["last_active_at"].date()).days
    assert set(profiles["lifecycle_stage"]) <= {"new", "active", "at_risk", "churned"}


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
    assert "Lifecycle stages" in table.stdout and "Customer c0 (" in shown_table(url)
    seg = json.loads(runner.invoke(app, ["segments", "--db", url, "--json"]).stdout)
    assert sum(s["customers"] for s in seg["segments"]) == seg["customers"]
    assert sum(s["revenue_share"] for s in seg["segments"]) == pytest.approx(1.0, abs=1e-3)
    assert sum(seg["lifecycle_stages"].values()) == seg["customers"]


def shown_table(url: str) -> str:
    shown = runner.invoke(app, ["customers", "show", "c0", "--db", url])
    assert shown.exit_code == 0, shown.output
    return shown.stdout


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
    assert runner.invoke(app, ["db", "migrate", "--db", url]).exit_code == 0  # an empty store, not a missing one
    result = runner.invoke(app, ["analyze", "--db", url])
    assert result.exit_code != 0 and "the store has no orders" in str(result.exception)
    result = runner.invoke(app, ["segments", "--db", url])
    assert "no customer profiles yet" in str(result.exception)


def _profile_rows() -> pd.DataFrame:
    """Four hand-written profiles: ``b`` has no predicted value (sorts last either way)."""
    rows = [
        ("a", "Champions", 300.0, 250.0, 0.1, "low", True),
        ("b", "Lost", 20.0, None, 0.9, "very_high", False),
        ("c_1", "Champions", 120.0, 90.0, 0.3, "medium", False),
        ("d", "At risk", 80.0, 60.0, 0.7, "high", False),
    ]
    frame = pd.DataFrame(
        rows, columns=["customer_id", "segment", "revenue", "clv", "churn_probability", "churn_band", "high_value"]
    )
    frame["as_of"] = dt.date(2024, 6, 30)
    frame["lifecycle_stage"] = ["active", "churned", "active", "at_risk"]
    frame["orders"], frame["returns"] = 2, 0
    frame["computed_at"] = dt.datetime(2024, 7, 1)
    for column in PROFILE_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame[list(PROFILE_COLUMNS)]


@pytest.mark.backend
def test_query_profiles_filters_sorts_and_pages(any_store_url):
    from marketloop.customers.profile import customer_view, query_profiles, write_profiles

    with open_store(any_store_url) as st:
        write_profiles(st, _profile_rows())
        ids = lambda **kw: list(query_profiles(st, **kw)[1]["customer_id"])  # noqa: E731
        assert ids() == ["a", "c_1", "d", "b"]  # -clv, missing value last
        assert ids(sort="clv") == ["d", "c_1", "a", "b"]
        assert ids(sort="-customer_id", limit=2, offset=1) == ["c_1", "b"]
        assert ids(segment="Champions") == ["a", "c_1"] and query_profiles(st, segment="Champions")[0] == 2
        assert ids(high_value=False) == ["c_1", "d", "b"] and ids(churn_band="high") == ["d"]
        assert ids(q="C_") == ["c_1"] and ids(q="%") == []  # LIKE wildcards are matched literally
        assert ids(lifecycle_stage="active") == ["a", "c_1"] and ids(lifecycle_stage="new") == []
        with pytest.raises(InputError, match="cannot sort by 'email'"):
            query_profiles(st, sort="email")
        with st.begin() as conn:
            conn.execute(
                schema.orders.insert(),
                [
                    {
                        "order_id": "o1",
                        "customer_id": "a",
                        "status": "completed",
                        "is_return": False,
                        "total": 10.0,
                        "ordered_at": dt.datetime(2024, 6, 1),
                    }
                ],
            )
            conn.execute(
                schema.order_lines.insert(),
                [{"order_id": "o1", "line_no": 1, "product_id": "p9", "quantity": 1, "unit_price": 10.0}],
            )
        view = customer_view(st, "a")
        assert view["profile"]["segment"] == "Champions" and view["customer"] is None and view["consents"] == []
        assert [o["order_id"] for o in view["recent_orders"]] == ["o1"]
        assert (
            view["recent_orders"][0]["lines"][0]["product_id"] == "p9"
            and view["recent_orders"][0]["lines"][0]["name"] is None
        )
        with pytest.raises(NotFoundError, match="no customer 'zz'"):
            customer_view(st, "zz")
