"""Shared fixtures: real datasets, and stores on every backend.

PostgreSQL and MySQL/MariaDB suites run when MARKETLOOP_TEST_PG_URL / MARKETLOOP_TEST_MYSQL_URL are
set (CI sets both). Without them they skip and say why, unless MARKETLOOP_REQUIRE_BACKENDS=1, in which
case a missing or unreachable server fails the run: CI cannot pass by skipping.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

# Property tests draw the same examples on every run, so CI cannot turn red by chance; explore more
# locally with HYPOTHESIS_PROFILE=explore.
hypothesis_settings.register_profile("ci", derandomize=True)
hypothesis_settings.register_profile("explore", max_examples=500)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
BACKEND_ENV = {"postgresql": "MARKETLOOP_TEST_PG_URL", "mysql": "MARKETLOOP_TEST_MYSQL_URL"}


def shared_data_dir() -> Path:
    return Path(os.environ.get("MARKETLOOP_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real datasets not found at {path} (set MARKETLOOP_SHARED_DATA to their folder)")
    return path


#: CI runs the delivery and service suites at fixed instants (`.ci/run`): MARKETLOOP_TEST_NOW=2026-11-10T22:30:00Z
#: starts every test's clock there (time runs on from it), so a test that only passes by day fails in CI.
TEST_NOW = os.environ.get("MARKETLOOP_TEST_NOW")


@pytest.fixture(autouse=True)
def _frozen_time_of_day() -> Iterator[None]:
    if not TEST_NOW:
        yield
        return
    import time_machine

    with time_machine.travel(dt.datetime.fromisoformat(TEST_NOW.replace("Z", "+00:00")), tick=True):
        yield


@pytest.fixture
def noon() -> Iterator[dt.datetime]:
    """Time starts on a Tuesday at 12:00 UTC (and runs on): for tests whose sends must not meet quiet hours."""
    import time_machine

    at = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(at, tick=True):
        yield at.replace(tzinfo=None)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own secret file and default store, and no marketloop.toml from the cwd."""
    monkeypatch.setenv("MARKETLOOP_SECRET_FILE", str(tmp_path / "secret" / "pii.key"))
    monkeypatch.setenv("MARKETLOOP_SESSION_SECRET_FILE", str(tmp_path / "secret" / "session.key"))
    monkeypatch.setenv("MARKETLOOP_DB_URL", f"duckdb:///{tmp_path / 'default.duckdb'}")
    monkeypatch.setenv("MARKETLOOP_CONFIG", str(tmp_path / "absent.toml"))
    # no scheduled job may start in the background of a test that did not ask for one (tests of the
    # scheduler pass run_schedules=True with a simulated clock)
    monkeypatch.setenv("MARKETLOOP_RUN_SCHEDULES", "false")
    from marketloop.config import get_settings

    get_settings.cache_clear()


def _reset_database(url: str) -> None:
    from marketloop.store.engine import normalise_url

    engine = sa.create_engine(normalise_url(url))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        else:
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
            for (name,) in conn.execute(sa.text("SHOW TABLES")).fetchall():
                conn.execute(sa.text(f"DROP TABLE IF EXISTS `{name}`"))
    engine.dispose()


def backend_url(backend: str, tmp_path: Path) -> str:
    if backend == "duckdb":
        return f"duckdb:///{tmp_path / f'store-{uuid.uuid4().hex[:6]}.duckdb'}"
    url = os.environ.get(BACKEND_ENV[backend])
    required = os.environ.get("MARKETLOOP_REQUIRE_BACKENDS") == "1"
    if not url:
        if required:
            pytest.fail(f"{BACKEND_ENV[backend]} is not set but MARKETLOOP_REQUIRE_BACKENDS=1")
        pytest.skip(f"{backend} suite skipped: set {BACKEND_ENV[backend]} (CI sets it) to run it against a real server")
    try:
        _reset_database(url)
    except Exception as exc:  # noqa: BLE001 - reported as skip or failure below
        if required:
            pytest.fail(f"{backend} at {url} does not answer: {exc}")
        pytest.skip(f"{backend} at {url} does not answer: {exc}")
    return url


@pytest.fixture(params=["duckdb", "postgresql", "mysql"])
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL on each backend (the contract suite runs once per backend)."""
    return backend_url(request.param, tmp_path)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A fresh DuckDB store URL (for tests that are not about backend differences)."""
    return backend_url("duckdb", tmp_path)


@pytest.fixture
def store(store_url: str):
    from marketloop.store import open_store

    s = open_store(store_url)
    yield s
    s.close()
