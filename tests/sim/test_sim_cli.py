"""`marketloop sim generate` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.errors import InputError

runner = CliRunner()


def test_generate_prints_a_summary_table(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sim", "generate", "--out", str(tmp_path / "s"), "-n", "300", "-p", "40", "-d", "30", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    for entity in ("products", "customers", "events", "orders", "order_lines", "reviews", "consents", "calendar"):
        assert entity in result.output
    assert "events/s" in result.output and (tmp_path / "s" / "manifest.json").is_file()


def test_generate_json_is_one_object(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "sim",
            "generate",
            "--out",
            str(tmp_path / "s"),
            "-n",
            "200",
            "-p",
            "30",
            "-d",
            "20",
            "--json",
            "--start",
            "2024-03-01",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["customers"] == 200 and payload["start"] == "2024-03-01" and payload["end"] == "2024-03-21"
    assert payload["rows"]["customers"] == 200 and payload["rows"]["events"] > 0 and payload["events_per_second"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0"], "customers: expected a whole number of customers, at least 1, got 0"),
        (["-d", "-3"], "days: expected a number of days from 1 to 3660, got -3"),
        (["-p", "0"], "products: expected a whole number of products, at least 1, got 0"),
        (["--seed", "-2"], "seed: expected a non-negative integer, got -2"),
        (["--start", "01/02/2025"], "--start: expected a date as YYYY-MM-DD, got '01/02/2025'"),
        (["--chunk", "5"], "chunk_customers: expected at least 250 customers per chunk, got 5"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["sim", "generate", "--out", str(tmp_path / "s"), *args])
    assert isinstance(result.exception, InputError)
    assert result.exception.message == message


def test_non_empty_folder_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "s"
    args = ["sim", "generate", "--out", str(out), "-n", "50", "-p", "10", "-d", "10"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert isinstance(again.exception, InputError) and "is not empty" in again.exception.message
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_errors_reach_the_terminal_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    env.pop("MARKETLOOP_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "marketloop", "sim", "generate", "--out", str(tmp_path / "s"), "--customers", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "customers: expected a whole number of customers, at least 1, got 0" in proc.stderr
    assert "Traceback" not in proc.stderr and "Hint:" in proc.stderr
