"""The main job end to end on a small synthetic store: generate, load through validation, report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.errors import InputError
from marketloop.report import Report
from marketloop.store import open_store
from marketloop.store.ingest import load_dataset


@dataclass
class DemoRun:
    out: Path
    summary: dict
    report: Report


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`marketloop demo --json` on a small store, once for the module; the report object is kept for inspection."""
    import marketloop.demo

    root = tmp_path_factory.mktemp("demo")
    out = root / "demo"
    kept: list = []
    run_demo = marketloop.demo.run_demo
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MARKETLOOP_SECRET_FILE", str(root / "secret" / "pii.key"))
        mp.setenv("MARKETLOOP_SESSION_SECRET_FILE", str(root / "secret" / "session.key"))
        mp.setenv("MARKETLOOP_DB_URL", f"duckdb:///{root / 'default.duckdb'}")
        mp.setenv("MARKETLOOP_CONFIG", str(root / "absent.toml"))
        mp.setenv("MARKETLOOP_RUN_SCHEDULES", "false")
        mp.setattr(marketloop.demo, "run_demo", lambda *a, **k: kept.append(run_demo(*a, **k)) or kept[-1])
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
    return DemoRun(out=out, summary=json.loads(result.stdout), report=kept[0].report)


def test_demo_loads_every_simulated_row_and_writes_the_report(demo_run: DemoRun) -> None:
    out = demo_run.out
    summary = demo_run.summary
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


def test_every_section_of_the_demo_report_shows_real_activity(demo_run: DemoRun) -> None:
    """No section may be an empty shell: every table has rows, every count of sends is above zero, and each
    campaign the demo runs (the planned one and the bandit) sent messages and saw clicks."""
    summary = demo_run.summary
    assert summary["delivery"]["sent"] > 0
    bandit = summary["bandit"]
    assert bandit["sent"] > 0.8 * bandit["audience"] * 0.9, bandit  # a 10 % holdout; a few may be skipped
    assert sum(sum(w["rewards"].values()) for w in bandit["waves"]) > 0, "the bandit saw no click at all"
    for section in demo_run.report.sections:
        assert section.tables or section.charts or section.figures or section.blocks or section.notes, section.title
        for caption, frame in section.tables:
            assert len(frame) > 0, f"{section.title}: table {caption!r} is empty"
            for column in frame.columns:
                if str(column).lower() in ("sent", "sends", "messages sent"):
                    assert frame[column].sum() > 0, f"{section.title}: {caption!r} sent nothing"
        for label, value in section.figures.items():
            if label.lower() in ("sent", "sends", "messages sent", "contacted"):
                assert value.replace(",", "") not in ("0", "0.0"), f"{section.title}: {label} is {value}"


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


def test_the_demo_report_is_small_has_no_internal_tables_and_fits_a_browser(demo_run: DemoRun, tmp_path: Path) -> None:
    """The report a marketer opens: under 1 MB, one offline file, only business data, and every chart drawn to
    its card at 1,280 and 1,920 px (screenshots in MARKETLOOP_SCREENSHOTS, else the test's folder)."""
    import os

    from tests.report.browser import assert_fits, look

    report = demo_run.out / "report.html"
    html = report.read_text()
    assert report.stat().st_size < 1_000_000, report.stat().st_size
    for internal in ("api_keys", "dispatch_locks", "llm_calls", "schema_migrations", "audit_log", "job_runs"):
        assert internal not in html, internal
    assert "-0.00" not in html and "plotly" not in html.lower()
    shots = Path(os.environ.get("MARKETLOOP_SCREENSHOTS", tmp_path / "shots"))
    for width, measured in look(report, (1280, 1920), shots, "demo-report").items():
        assert_fits(measured, width)
