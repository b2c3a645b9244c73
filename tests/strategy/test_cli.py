"""The campaign and eval commands end to end (small data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from marketloop.cli.campaign import app as campaign_app
from marketloop.cli.main import app

runner = CliRunner()


def _invoke(args: list[str]):
    return runner.invoke(app, args, catch_exceptions=True, env={"COLUMNS": "250"})


def test_campaign_app_is_importable() -> None:
    assert {c.name for c in campaign_app.registered_commands} >= {"plan", "show"}


def test_plan_and_show(known_store_url, tmp_path: Path) -> None:
    url, _ = known_store_url
    goal = tmp_path / "goal.toml"
    goal.write_text('name = "Spring"\ndiscounts = [0.0, 0.2]\n', encoding="utf-8")
    result = _invoke(["campaign", "plan", str(goal), "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["stored"] and out["audience"] > 0
    assert out["plan"]["predictions"]["incremental_conversions"]["mean"] > 0
    shown = _invoke(["campaign", "show", out["campaign_id"], "--db", url])
    assert shown.exit_code == 0, shown.output
    assert "Rationale" in shown.stdout and "put off by messages" in shown.stdout


def test_bad_goal_is_a_clean_error(tmp_path: Path) -> None:
    goal = tmp_path / "goal.toml"
    goal.write_text('name = "x"\nmargin_floor = 2\n', encoding="utf-8")
    from marketloop.errors import InputError

    result = _invoke(["campaign", "plan", str(goal), "--db", f"duckdb:///{tmp_path / 's.duckdb'}"])
    assert isinstance(result.exception, InputError)
    assert "margin_floor" in result.exception.message


def _uplift_csv(path: Path, n: int = 3_000) -> Path:
    rng = np.random.default_rng(0)
    x = rng.random(n)
    arm = rng.choice(["mail", "none", "other"], n)
    p = 0.2 + np.where(arm == "mail", np.where(x > 0.5, 0.2, 0.0), 0.0)
    y = (rng.random(n) < p).astype(int)
    pd.DataFrame(
        {"x": x, "kind": rng.choice(["a", "b"], n), "arm": arm, "y": y, "later": y * (rng.random(n) < 0.3)}
    ).to_csv(path, index=False)
    return path


def test_eval_uplift_json(tmp_path: Path) -> None:
    data = _uplift_csv(tmp_path / "test.csv")
    args = [
        "eval",
        "uplift",
        "--data",
        str(data),
        "--treatment-col",
        "arm",
        "--treatment",
        "mail",
        "--control",
        "none",
        "--outcome",
        "y",
        "--seeds",
        "1",
        "--drop",
        "later",
        "--json",
    ]
    result = _invoke(args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out["learners"]) == {"t_learner", "x_learner", "dr_learner", "random"}
    assert out["learners"]["t_learner"]["uplift_at_30"]["mean"] > out["learners"]["random"]["uplift_at_30"]["mean"]


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"--treatment": "post"}, "--treatment: value 'post' does not occur"),
        ({"--outcome": "nope"}, "--outcome: no column 'nope'"),
        ({"--treatment-col": "arms"}, "--treatment-col: no column 'arms'"),
        ({"--outcome": "x"}, "must be 0/1"),
        ({"--drop": "x"}, "feature 'later'"),
    ],
)
def test_eval_uplift_bad_input(tmp_path: Path, change: dict, text: str) -> None:
    data = _uplift_csv(tmp_path / "test.csv", 1_000)
    opts = {
        "--data": str(data),
        "--treatment-col": "arm",
        "--treatment": "mail",
        "--control": "none",
        "--outcome": "y",
        "--drop": "later",
    }
    opts.update(change)
    result = _invoke(["eval", "uplift", *[v for kv in opts.items() for v in kv], "--seeds", "1"])
    assert result.exit_code != 0
    assert text in result.exception.message


def test_plan_with_exploration_in_the_simulator(tmp_path: Path) -> None:
    from marketloop.config import load_settings
    from marketloop.sim import generate_store
    from marketloop.store.engine import open_store
    from marketloop.store.ingest import load_dataset

    sim = tmp_path / "sim"
    manifest = generate_store(sim, customers=2_000, products=60, days=60, seed=2)
    url = f"duckdb:///{tmp_path / 'sim.duckdb'}"
    with open_store(url) as store:
        load_dataset(store, sim, manifest.files, settings=load_settings(db_url=url))
    goal = tmp_path / "goal.toml"
    goal.write_text('name = "Explore then plan"\ndiscounts = [0.0, 0.1]\n', encoding="utf-8")
    result = _invoke(["campaign", "plan", str(goal), "--db", url, "--sim", str(sim), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["facts"]["history_campaigns"][0].startswith("explore-")
    with open_store(url) as store:
        assert store.count("sends") == out["facts"]["history_customers"]
        assert store.count("campaign_audience") == out["audience"]
