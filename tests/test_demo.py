"""The main job end to end on a small synthetic store: generate, load through validation, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.errors import InputError
from marketloop.store import open_store
from marketloop.store.ingest import load_dataset


def test_demo_loads_every_simulated_row_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "--out",
            str(out),
            "--customers",
            "1500",
            "--products",
            "80",
            "--days",
            "120",
            "--seed",
            "3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    generated = summary["generated_rows"]
    with open_store(summary["db_url"]) as store:
        counts = store.counts()
        # Simulated data is valid data: nothing is rejected and nothing is lost.
        assert counts["rejected_rows"] == 0
        for entity in ("customers", "products", "events", "reviews", "consents", "calendar"):
            assert counts[entity] == generated[entity], entity
        # the demo's simulated campaigns add the purchases they caused (source 'simulator'), one line each
        added = store.scalar("SELECT count(*) FROM orders WHERE source = 'simulator'")
        assert (
            counts["orders"] - added == generated["orders"]
            and counts["order_lines"] - added == generated["order_lines"]
        )
        # Contact details arrive raw from the simulator and are stored only as keyed hashes.
        emails = store.read_sql("SELECT email_hash FROM customers")["email_hash"]
        assert emails.str.fullmatch(r"[0-9a-f]{64}").all()
    html = (out / "report.html").read_text()
    for heading in (
        "Store overview",
        "Revenue per week",
        "Orders by category",
        "Customers by order recency",
        "Lifecycle stage (activity against each customer",
        "What was sent",
        "Measured lift against the holdout",
        "Learning while sending",
    ):
        assert heading in html
    assert summary["kpis"]["orders"] > 0
    # the demo ends by saying how to open the dashboard, with an owner-only admin key that works
    key_file = Path(summary["admin_key_file"])
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert f"--db {summary['db_url']}" in summary["serve_command"] and "--sim" in summary["serve_command"]
    with open_store(summary["db_url"]) as store:
        from marketloop.service.keys import KeyVerifier

        assert KeyVerifier(store).verify(key_file.read_text().strip()).role == "admin"


def test_load_dataset_rejects_an_empty_folder_and_unknown_entities(store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no entity files"):
        load_dataset(store, tmp_path)
    with pytest.raises(InputError, match="Unknown entities"):
        load_dataset(store, tmp_path, {"widgets": "w.csv"})


def test_demo_rejects_bad_sizes(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--customers", "0"])
    assert isinstance(result.exception, InputError)
    assert "--customers must be a positive number, got 0" in str(result.exception)


def test_sim_generate_with_load_and_sim_load_are_idempotent(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'sim.duckdb'}"
    runner = CliRunner()
    first = runner.invoke(
        app,
        [
            "sim",
            "generate",
            "--out",
            str(tmp_path / "s"),
            "--customers",
            "300",
            "--products",
            "30",
            "--days",
            "60",
            "--load",
            "--db",
            url,
            "--json",
        ],
    )
    assert first.exit_code == 0, first.output
    loaded = json.loads(first.stdout)["loaded"]
    assert loaded["customers"] == 300 and loaded["products"] == 30
    again = runner.invoke(app, ["sim", "load", str(tmp_path / "s"), "--db", url, "--json"])
    assert again.exit_code == 0, again.output
    assert all(n == 0 for n in json.loads(again.stdout)["loaded"].values())
