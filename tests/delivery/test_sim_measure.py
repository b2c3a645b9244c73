"""A complete small campaign in simulation: outbox -> simulator channel -> attribution -> lift -> report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from marketloop.delivery.outbox import launch
from marketloop.delivery.simulate import run_simulated
from marketloop.measure.lift import diff_ci, lift
from marketloop.measure.outcomes import randomised_history
from marketloop.measure.report import campaign_report, campaign_results
from marketloop.store import open_store
from marketloop.store.ingest import load_dataset

from .conftest import make_plan


@pytest.fixture(scope="module")
def sim_store(tmp_path_factory):
    from marketloop.config import load_settings
    from marketloop.sim import generate_store

    root = tmp_path_factory.mktemp("simcampaign")
    manifest = generate_store(root / "sim", customers=800, products=60, days=20, seed=3)
    settings = load_settings(db_url=f"duckdb:///{root / 'ml.duckdb'}", secret_file=root / "pii.key")
    store = open_store(settings.db_url)
    load_dataset(store, root / "sim", manifest.files, settings=settings)
    ids = store.read_sql("select customer_id from customers order by customer_id")["customer_id"].tolist()
    make_plan(store, "sim1", ids, holdout=0.5, groups=2, variants=("plain", "ten_off"))
    launch(store, "sim1")
    result = run_simulated(store, "sim1", root / "sim", seed=1)
    yield store, root, result
    store.close()


def test_simulated_campaign_runs_through_outbox_and_channel(sim_store):
    store, _, result = sim_store
    counts = store.read_sql("select status, count(*) n from sends group by status").set_index("status")["n"].to_dict()
    assert counts["holdout"] == 400 and counts["sent"] == result.sent > 0
    assert result.reasons.get("no email consent", 0) == counts.get("skipped", 0) > 0  # ~12 % have no e-mail consent
    outcomes = (
        store.read_sql("select kind, count(*) n from send_outcomes group by kind").set_index("kind")["n"].to_dict()
    )
    assert outcomes["delivered"] == result.sent and 0 < outcomes["open"] < result.sent
    assert store.scalar("select count(*) from orders where source = 'simulator'") > 0


def test_report_measures_lift_by_segment_and_variant(sim_store, tmp_path):
    store, _, _ = sim_store
    results = campaign_results(store, "sim1")
    assert results["funnel"]["treated"] == results["funnel"]["holdout"] == 400
    o = results["overall"]
    assert o["conversion_low"] <= o["conversion_lift"] <= o["conversion_high"]
    assert [r["level"] for r in results["by_variant"]] == ["plain", "ten_off"]
    assert [r["level"] for r in results["by_segment"]] == ["g0", "g1"]
    json.dumps(results)  # plain data
    path = campaign_report(results).write(tmp_path / "r.html")
    assert "Measured lift against the holdout" in path.read_text()


def test_randomised_history_for_uplift_training(sim_store):
    store, _, _ = sim_store
    history = randomised_history(store)
    assert len(history) == 800 and history["treated"].sum() == 400
    assert {"customer_id", "treated", "variant", "discount", "converted", "revenue"} <= set(history.columns)
    assert set(history.loc[history["variant"] == "ten_off", "discount"]) == {0.1}


def test_report_cli_writes_html_and_json(sim_store, tmp_path):
    from marketloop.cli.main import app

    store, root, _ = sim_store
    url = str(store.url)
    store.engine.dispose()
    out = tmp_path / "report.html"
    res = CliRunner().invoke(app, ["campaign", "report", "sim1", "--db", url, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["campaign_id"] == "sim1" and out.is_file()
    res = CliRunner().invoke(app, ["campaign", "report", "nope", "--db", url])
    assert res.exit_code != 0 and "not found" in str(res.exception or res.output)


def test_lift_known_answer():
    frame = pd.DataFrame(
        {
            "is_holdout": [False] * 4 + [True] * 4,
            "status": ["sent"] * 4 + ["holdout"] * 4,
            "converted": [1, 1, 0, 0, 1, 0, 0, 0],
            "revenue": [10.0, 30, 0, 0, 20, 0, 0, 0],
            "profit": [5.0, 15, 0, 0, 10, 0, 0, 0],
            "group": "g",
        }
    )
    row = lift(frame).iloc[0]
    assert row["conversion_lift"] == pytest.approx(0.25) and row["revenue_lift"] == pytest.approx(5.0)
    assert row["incremental_revenue"] == pytest.approx(20.0)
    d, lo, hi = diff_ci(np.array([1.0, 0, 1, 0]), np.array([0.0, 0, 1, 0]))
    se = np.sqrt(np.var([1, 0, 1, 0], ddof=1) / 4 + np.var([0, 0, 1, 0], ddof=1) / 4)
    assert d == pytest.approx(0.25) and hi - d == pytest.approx(1.959964 * se, rel=1e-5)


def test_bandit_reallocates_variants_wave_by_wave(sim_store):
    from marketloop.delivery.bandit import run_bandit_simulated

    store, root, _ = sim_store
    ids = store.read_sql("select customer_id from customers order by customer_id")["customer_id"].tolist()[:600]
    make_plan(store, "bandit1", ids, holdout=0.2, variants=("plain", "ten_off"))
    launch(store, "bandit1", allocate=True)
    assert store.scalar("select count(*) from sends where campaign_id = 'bandit1' and status = 'waiting'") == 480
    log = run_bandit_simulated(store, "bandit1", root / "sim", waves=3, reward="click", floor=0.2, seed=2)
    assert [w["allocated"] for w in log.waves] == [160, 160, 160]
    for wave in log.waves:
        shares = wave["allocation"]
        assert sum(shares.values()) == pytest.approx(1.0) and min(shares.values()) >= 0.1 - 1e-9
    assert log.waves[0]["allocation"] == {"plain": 0.5, "ten_off": 0.5} or log.waves[0]["observed"] == {
        "plain": 0,
        "ten_off": 0,
    }
    assert sum(log.waves[2]["observed"].values()) > 0  # later waves learn from earlier outcomes
    sends = store.read_sql("select status, payload_json from sends where campaign_id = 'bandit1' and not is_holdout")
    assert "waiting" not in set(sends["status"])
    propensities = sends["payload_json"].map(lambda p: json.loads(p)["propensity"])
    assert propensities.between(0.1, 1.0).all()
    assert store.scalar("select status from campaigns where campaign_id = 'bandit1'") == "completed"


def test_simulated_orders_keep_the_store_invariants(sim_store):
    store, _, _ = sim_store
    bad = store.read_sql("""
        SELECT o.order_id, o.total, SUM(l.quantity * l.unit_price - COALESCE(l.discount, 0)) AS lines
        FROM orders o LEFT JOIN order_lines l ON l.order_id = o.order_id
        WHERE o.source = 'simulator' GROUP BY o.order_id, o.total
        HAVING lines IS NULL OR ABS(o.total - lines) > 0.011""")
    assert bad.empty, bad.head()
