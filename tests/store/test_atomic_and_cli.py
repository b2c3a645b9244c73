"""Atomicity under SIGKILL, the CLI's summaries and error messages, and the real UCI file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.store import open_store

runner = CliRunner()


def _events_csv(path: Path, rows: int) -> Path:
    with path.open("w") as handle:
        handle.write("event_id,customer_id,event_type,product_id,ts\n")
        for i in range(rows):
            handle.write(f"E{i},C{i % 5000},view,P{i % 300},2024-03-{1 + i % 28:02d} 10:{i % 60:02d}:00\n")
    return path


def test_killed_load_leaves_nothing_behind(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'kill.duckdb'}"
    open_store(url).close()
    data = _events_csv(tmp_path / "events.csv", 1_500_000)
    env = {**os.environ, "MARKETLOOP_DB_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketloop", "ingest", "events", str(data), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill it while it works: wait until the process has used some CPU time, then SIGKILL.
    import psutil

    watched = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and sum(watched.cpu_times()[:2]) < 2.5:
        time.sleep(0.05)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open_store(url) as store:
        events, runs = store.count("events"), store.count("ingest_runs")
    if killed:
        assert (events, runs) == (0, 0), "a killed load must leave no partial batch"
    else:  # the machine was fast enough to finish first: then everything must be there
        assert (events, runs) == (1_500_000, 1)
    # A rerun loads the whole file exactly once.
    result = runner.invoke(app, ["ingest", "events", str(data), "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    with open_store(url) as store:
        assert store.count("events") == 1_500_000


def test_cli_ingest_prints_json_summary_and_is_idempotent(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    path = tmp_path / "products.csv"
    path.write_text("product_id,name,price,colour\nP1,Shirt,10,red\nP2,Scarf,-1,blue\n")
    first = runner.invoke(app, ["ingest", "products", str(path), "--db", url, "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["tables"]["products"] == {"loaded": 1, "skipped": 0, "updated": 0, "rejected": 1}
    assert summary["rejected_by_reason"] == {"range": 1}
    assert summary["ignored_columns"] == ["colour"]
    second = json.loads(runner.invoke(app, ["ingest", "products", str(path), "--db", url, "--json"]).stdout)
    assert second["already_loaded"] is True and second["loaded"] == 0


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["ingest", "ordres", "x.csv"], 2, "Unknown entity 'ordres'"),
        (["ingest", "orders", "missing.csv"], 3, "does not exist"),
        (["ingest", "orders", "x.csv", "--map", "nonsense"], 2, "--map 'nonsense' is not COLUMN=FIELD"),
        (["db", "status", "--db", "oracle://x"], 2, "db URL scheme 'oracle' is not supported"),
        (["db", "status", "--db", "postgresql://nobody@127.0.0.1:1/x"], 4, "Cannot open store"),
    ],
)
def test_cli_errors_are_clean(tmp_path: Path, args: list[str], code: int, text: str) -> None:
    (tmp_path / "x.csv").write_text("order_id,ordered_at\n")
    result = subprocess.run(
        [sys.executable, "-m", "marketloop", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "MARKETLOOP_DB_URL": f"duckdb:///{tmp_path / 's.duckdb'}"},
    )
    assert result.returncode == code, result.stderr
    assert text in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert "Hint:" in result.stderr


@pytest.mark.realdata
def test_uci_online_retail_models_its_peculiarities(shared_data: Path, tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'uci.duckdb'}"
    source = shared_data / "uci_online_retail" / "online_retail.csv.gz"
    result = runner.invoke(app, ["import", "uci-online-retail", str(source), "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_read"] == 541_909
    with open_store(url) as store:
        lines = store.count("order_lines")
        rejected = store.scalar("SELECT count(DISTINCT line) FROM rejected_rows")
        assert lines + rejected == 541_909  # every record is either loaded or quarantined with a reason
        assert store.count("customers") == 4_372
        assert (
            store.scalar("SELECT count(*) FROM orders WHERE is_return AND order_id LIKE 'C%'")
            == store.scalar("SELECT count(*) FROM orders WHERE order_id LIKE 'C%'")
            > 3_000
        )
        assert store.scalar("SELECT count(*) FROM orders WHERE customer_id IS NULL") > 1_000  # guest orders
        non_products = set(store.read_sql("SELECT product_id FROM products WHERE NOT is_product")["product_id"])
        assert {"POST", "M", "BANK CHARGES", "DOT"} <= non_products
        assert store.scalar("SELECT count(*) FROM order_lines WHERE quantity < 0") > 9_000
    again = json.loads(runner.invoke(app, ["import", "uci-online-retail", str(source), "--db", url, "--json"]).stdout)
    assert again["already_loaded"] is True
