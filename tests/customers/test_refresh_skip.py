"""A profile refresh whose inputs did not change is skipped; any change to what it reads, or --force,
recomputes; the refresh log is written with the profiles, in one transaction."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.customers.profile import AnalyzeConfig, inputs_fingerprint, last_refresh, refresh_profiles
from marketloop.store import open_store, schema

from .conftest import synthetic_orders

runner = CliRunner()


@pytest.fixture
def store(tmp_path):
    orders, lines, products = synthetic_orders(300, seed=3)
    with open_store(f"duckdb:///{tmp_path / 'skip.duckdb'}") as st:
        with st.begin() as conn:
            conn.execute(schema.products.insert(), products)
            conn.execute(schema.orders.insert(), orders)
            conn.execute(schema.order_lines.insert(), lines)
        yield st


def _analyze(store, *args: str) -> dict:
    result = runner.invoke(app, ["analyze", "--db", str(store.url), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_unchanged_inputs_skip_and_changes_recompute(store) -> None:
    first = _analyze(store)
    assert first["skipped"] is False
    logged = last_refresh(store)
    assert logged["customers"] == first["customers"] and json.loads(logged["report_json"])["as_of"] == first["as_of"]

    again = _analyze(store)
    assert again["skipped"] is True and again["customers"] == first["customers"] and again["churn"] == first["churn"]
    assert last_refresh(store)["refresh_id"] == logged["refresh_id"]  # nothing new written

    assert _analyze(store, "--force")["skipped"] is False  # forced
    assert _analyze(store, "--horizon-days", "60")["skipped"] is False  # other settings
    assert _analyze(store, "--horizon-days", "60")["skipped"] is True

    with store.begin() as conn:  # an order cancelled in place: same count, same total, other status
        oid = conn.execute(
            sa.select(schema.orders.c.order_id).where(schema.orders.c.status == "completed").limit(1)
        ).scalar_one()
        conn.execute(schema.orders.update().where(schema.orders.c.order_id == oid).values(status="cancelled"))
    assert _analyze(store, "--horizon-days", "60")["skipped"] is False

    with store.begin() as conn:  # browsing only: no order, yet the lifecycle stage reads events
        conn.execute(
            schema.events.insert().values(
                event_id="e-new", customer_id="c1", event_type="view", product_id="p1", ts=dt.datetime(2024, 6, 29)
            )
        )
    assert _analyze(store, "--horizon-days", "60")["skipped"] is False


def test_a_skip_needs_the_logged_profiles_in_the_table(store) -> None:
    refresh_profiles(store)
    with store.begin() as conn:  # profiles replaced by something else since (e.g. a restore)
        conn.execute(schema.customer_profiles.delete().where(schema.customer_profiles.c.customer_id == "c0"))
    assert refresh_profiles(store)["skipped"] is False
    assert refresh_profiles(store)["skipped"] is True


def test_fingerprint_depends_on_the_day_and_the_settings(store) -> None:
    day = dt.date(2024, 6, 30)
    base = inputs_fingerprint(store, day, AnalyzeConfig())
    assert base == inputs_fingerprint(store, day, AnalyzeConfig())
    assert base != inputs_fingerprint(store, day - dt.timedelta(days=1), AnalyzeConfig())
    assert base != inputs_fingerprint(store, day, AnalyzeConfig(high_value_share=0.2))


def test_cli_says_up_to_date(store) -> None:
    refresh_profiles(store)
    result = runner.invoke(app, ["analyze", "--db", str(store.url)])
    assert result.exit_code == 0, result.output
    assert "are up to date" in result.stdout and "--force" in result.stdout


@pytest.mark.backend
def test_fingerprint_and_log_on_every_backend(any_store_url) -> None:
    """The aggregates behind the fingerprint and the refresh log are plain SQL on DuckDB, PostgreSQL and MySQL."""
    from marketloop.customers.profile import write_profiles

    day = dt.date(2024, 6, 30)
    with open_store(any_store_url) as st:
        empty = inputs_fingerprint(st, day, AnalyzeConfig())
        with st.begin() as conn:
            conn.execute(
                schema.orders.insert(),
                [
                    {
                        "order_id": "o1",
                        "customer_id": "c1",
                        "status": "completed",
                        "is_return": False,
                        "total": 10.0,
                        "ordered_at": dt.datetime(2024, 6, 1),
                    }
                ],
            )
        one = inputs_fingerprint(st, day, AnalyzeConfig())
        assert one != empty and one == inputs_fingerprint(st, day, AnalyzeConfig())
        frame = pd.DataFrame(columns=[c.name for c in schema.customer_profiles.columns])
        write_profiles(
            st,
            frame,
            {
                "refresh_id": "r1",
                "as_of": day,
                "inputs_sha256": one,
                "customers": 0,
                "report_json": "{}",
                "computed_at": dt.datetime(2024, 7, 1, 12),
            },
        )
        assert last_refresh(st)["inputs_sha256"] == one
