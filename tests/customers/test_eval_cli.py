"""`marketloop eval clv` and `marketloop eval churn` on a generic transactions file."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.errors import InputError

from .conftest import synthetic_orders

runner = CliRunner()


@pytest.fixture(scope="module")
def tx_csv(tmp_path_factory):
    orders, _, _ = synthetic_orders(n_customers=300, seed=3)
    frame = pd.DataFrame(orders).rename(columns={"customer_id": "client", "ordered_at": "when", "total": "paid"})
    path = tmp_path_factory.mktemp("eval") / "tx.csv"
    frame[["client", "when", "paid"]].to_csv(path, index=False)
    return path


COLS = ["--customer-col", "client", "--date-col", "when", "--amount-col", "paid"]


def test_eval_clv_json(tx_csv):
    result = runner.invoke(
        app,
        [
            "eval",
            "clv",
            "--transactions",
            str(tx_csv),
            *COLS,
            "--calibration-end",
            "2023-12-31",
            "--holdout-end",
            "2024-06-30",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc["params"]) == {"r", "alpha", "a", "b"}
    assert doc["fit_seconds"] > 0
    # the data follow a BG/NBD-like process, so the model beats the naive rate
    assert doc["per_customer_mae"]["model"] < doc["per_customer_mae"]["naive"]
    assert abs(doc["holdout"]["relative_error"]) < 0.3


def test_eval_churn_table(tx_csv):
    result = runner.invoke(
        app, ["eval", "churn", "--transactions", str(tx_csv), *COLS, "--as-of", "2024-03-31", "--horizon-days", "90"]
    )
    assert result.exit_code == 0, result.output
    # calibration per churn band, with the reliability diagram, for the model the profiles serve
    for text in (
        "Calibration by churn band",
        "ECE in band",
        "observed churn",
        "justified share",
        "Reliability diagram",
    ):
        assert text in result.stdout, text
    doc = json.loads(
        runner.invoke(
            app,
            ["eval", "churn", "--transactions", str(tx_csv), *COLS, "--as-of", "2024-03-31", "--json"],
        ).stdout
    )
    assert doc["served"] in ("lightgbm", "bgnbd_calibrated") and "bgnbd_calibrated" in doc["models"]
    bands = doc["calibration"][doc["served"]]["bands"]
    assert [b["band"] for b in bands] == ["low", "medium", "high", "very_high"]
    assert bands[-1]["share"] == pytest.approx(0.1, abs=0.04) and bands[-1]["ece"] is not None
    assert sum(b["customers"] for b in doc["calibration"]["lightgbm"]["reliability"]) == doc["test_customers"]
    for name in ("lightgbm", "bgnbd", "rfm_rule", "rfm_cells", "ROC AUC", "Best model"):
        assert name in result.stdout


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["clv", "--calibration-end", "2024-06-30", "--holdout-end", "2024-01-01"], "is not after the start"),
        (
            ["clv", "--calibration-end", "2024-03-01", "--holdout-end", "2025-01-01"],
            "before the end of the evaluation window",
        ),
        (["clv", "--calibration-end", "31/12/2023", "--holdout-end", "2024-06-30"], "is not a date"),
        (["churn", "--as-of", "2024-06-01", "--horizon-days", "90"], "before the end of the evaluation window"),
        (["churn", "--as-of", "2023-02-15", "--horizon-days", "30"], "span only"),
    ],
)
def test_eval_bad_arguments(tx_csv, args, match):
    result = runner.invoke(app, ["eval", args[0], "--transactions", str(tx_csv), *COLS, *args[1:]])
    assert isinstance(result.exception, InputError)
    assert match in str(result.exception)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("a,2023-01-01,10\na,2023-06-01,12\na,2024-01-02,5\n", "single customer"),
        ("a,2023-01-01,10\nb,2023-01-01,12\nc,2023-01-01,5\n", "on one day"),
        ("a,2023-01-01,10\nb,2099-01-01,12\n", "dated in the future"),
        ("a,2023-01-01,-10\nb,2023-06-01,-12\n", "no purchases by known customers"),
    ],
)
def test_eval_bad_files(tmp_path, rows, match):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,date,amount\n" + rows)
    result = runner.invoke(
        app,
        ["eval", "clv", "--transactions", str(path), "--calibration-end", "2023-12-31", "--holdout-end", "2024-06-30"],
    )
    assert isinstance(result.exception, InputError), result.output
    assert match in str(result.exception)
