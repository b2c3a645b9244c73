"""Choosing an engine: unknown names and options that need Spark fail with a clear error (no Spark needed)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.config import load_settings
from marketloop.engines import check_engine
from marketloop.errors import ConfigError, InputError
from marketloop.store import open_store


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "--engine", "hadoop"], "engine 'hadoop' is not known (expected one of: duckdb, spark)"),
        (["recs", "train", "--engine", "polars"], "engine 'polars' is not known"),
        (["analyze", "--input", "sim/"], "--input needs --engine spark"),
        (["recs", "train", "--input", "sim/"], "--input needs --engine spark"),
    ],
)
def test_bad_engine_choices_are_named(tmp_path, args, message):
    db = f"duckdb:///{tmp_path / 'shop.duckdb'}"
    open_store(db).close()
    result = CliRunner().invoke(app, [*args, "--db", db])
    assert isinstance(result.exception, InputError), result.output  # `marketloop` prints it and exits with 2
    assert message in str(result.exception)
    assert result.exception.hint


def test_check_engine_and_the_setting():
    assert check_engine("spark") == "spark"
    with pytest.raises(InputError, match="expected one of: duckdb, spark"):
        check_engine("Spark")
    assert load_settings(engine="spark").engine == "spark"
    with pytest.raises(ConfigError, match="engine: Value error, expected duckdb or spark"):
        load_settings(engine="flink")
