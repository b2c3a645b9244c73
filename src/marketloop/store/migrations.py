"""Versioned schema migrations.

Each migration has a version number, a name and an ``upgrade(conn, store)`` function; applied versions
are recorded in ``schema_migrations``. Migrations run in one transaction each, in order, and are
written to be re-runnable (they inspect before they alter).

We keep this small runner instead of Alembic because Alembic's DuckDB support is incomplete and the
schema is declared once in ``schema.py`` for all three databases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from marketloop.clock import wall_utcnow
from marketloop.errors import StoreError
from marketloop.store import schema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[Connection], None]


def _create(*names: str) -> Callable[[Connection], None]:
    def upgrade(conn: Connection) -> None:
        schema.metadata.create_all(conn, tables=[schema.metadata.tables[n] for n in names], checkfirst=True)

    return upgrade


def _add_columns(
    conn: Connection, table: sa.Table, names: tuple[str, ...], extra: dict[str, str] | None = None
) -> None:
    """Add the declared columns ``names`` of ``table`` that the database table lacks (``extra``: DDL after
    the type, e.g. a default). Stores created by a newer MarketLoop already have them."""
    # a zero-row select names the columns on every backend (DuckDB's reflection is incomplete)
    present = {name.lower() for name in conn.execute(sa.text(f"SELECT * FROM {table.name} WHERE 1 = 0")).keys()}
    for name in names:
        if name in present:
            continue
        ddl = table.c[name].type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {ddl}{(extra or {}).get(name, '')}"))


def _add_send_state(conn: Connection) -> None:
    """Migration 6: the outbox's delivery state on ``sends`` (attempts, next attempt, last error), the
    suppression list and the dispatch locks."""
    _add_columns(
        conn,
        schema.sends,
        ("attempts", "next_attempt_at", "last_error", "updated_at"),
        {"attempts": " DEFAULT 0 NOT NULL"},
    )
    _create("suppressions", "dispatch_locks")(conn)


def _add_profile_activity(conn: Connection) -> None:
    """Migration 8: activity recency and the lifecycle stage on ``customer_profiles`` (nullable, filled by
    the next profile refresh)."""
    _add_columns(
        conn, schema.customer_profiles, ("last_active_at", "days_inactive", "activity_gap_days", "lifecycle_stage")
    )


def _unindex_fact_tables(conn: Connection) -> None:
    """Migration 11: on DuckDB, rebuild the fact tables (events, orders, order lines) without their
    primary-key index (see ``schema.FACT_TABLES``); rows, columns and NOT NULL constraints are kept.
    Other databases keep their indexes: nothing to do there."""
    if conn.dialect.name != "duckdb":
        return
    for name in schema.FACT_TABLES:
        indexed = conn.execute(
            sa.text(
                "SELECT count(*) FROM duckdb_constraints() WHERE table_name = :t AND constraint_type = 'PRIMARY KEY'"
            ),
            {"t": name},
        ).scalar_one()
        if not indexed:
            continue
        table = schema.metadata.tables[name]
        present = [c for c in conn.execute(sa.text(f"SELECT * FROM {name} WHERE 1 = 0")).keys()]
        conn.execute(sa.text(f"ALTER TABLE {name} RENAME TO {name}__indexed"))
        table.create(conn)
        cols = ", ".join(c for c in present if c in table.c)
        conn.execute(sa.text(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {name}__indexed"))
        conn.execute(sa.text(f"DROP TABLE {name}__indexed"))


def _add_always_on(conn: Connection) -> None:
    """Migration 10: the customer's birth year (fairness by age band), the job log, alerts and the
    monitor's records."""
    _add_columns(conn, schema.customers, ("birth_year",))
    _create("job_runs", "alerts", "monitor_records")(conn)


def _index_sessions(conn: Connection) -> None:
    """Migration 13: the session recommendation route reads one visit's events by ``session_id``; row stores
    get an index for it (DuckDB declares none, see ``schema.py``)."""
    if conn.dialect.name in ("postgresql", "mysql", "mariadb"):
        index = next(i for i in schema.events.indexes if i.name == "ix_events_session_id")
        index.create(conn, checkfirst=True)


def _add_forecasts(conn: Connection) -> None:
    """Migration 14: forecast runs, forecasts and stock cover; covariate values on the calendar."""
    _add_columns(conn, schema.calendar, ("value",))
    _create("forecast_runs", "forecasts", "stock_cover")(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "canonical schema: customers, products, events, orders, lines, reviews, consents, calendar, "
        "campaigns, sends, outcomes, rejected rows, ingest runs, audit log",
        _create(
            "customers",
            "products",
            "events",
            "orders",
            "order_lines",
            "reviews",
            "consents",
            "calendar",
            "campaigns",
            "sends",
            "send_outcomes",
            "rejected_rows",
            "ingest_runs",
            "audit_log",
            "campaign_audience",
        ),
    ),
    Migration(
        2, "customers: customer profile table (RFM, value, churn, next order, interests)", _create("customer_profiles")
    ),
    Migration(3, "recs: model registry", _create("recs_models")),
    Migration(
        4,
        "content: review sentiment, review summaries, LLM call log",
        _create("review_sentiment", "review_summaries", "llm_calls"),
    ),
    Migration(6, "delivery: outbox state on sends, suppression list, dispatch locks", _add_send_state),
    Migration(7, "service: API keys", _create("api_keys")),
    Migration(
        8,
        "customers: last activity, days inactive, activity cadence and lifecycle stage on profiles",
        _add_profile_activity,
    ),
    Migration(
        9,
        "customers: profile refresh log (a refresh whose inputs did not change is skipped)",
        _create("profile_refreshes"),
    ),
    Migration(
        10,
        "always on: customers.birth_year, job runs, alerts, monitor records (references, drift, quality)",
        _add_always_on,
    ),
    Migration(
        11,
        "ingestion: fact tables (events, orders, order lines) without a primary-key index on DuckDB",
        _unindex_fact_tables,
    ),
    Migration(12, "recs: batch for-you lists per model version", _create("recs_lists")),
    Migration(13, "events: index on session_id (row stores), for live session recommendations", _index_sessions),
    Migration(
        14, "forecast: forecast runs, forecasts and stock cover; covariate values on the calendar", _add_forecasts
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def applied_versions(conn: Connection) -> set[int]:
    schema.schema_migrations.create(conn, checkfirst=True)
    rows = conn.execute(sa.select(schema.schema_migrations.c.version)).scalars()
    return set(rows)


def migrate(store) -> list[int]:  # noqa: ANN001 - Store, avoiding an import cycle
    """Apply every pending migration; return the versions applied now."""
    with store.begin() as conn:
        done = applied_versions(conn)
    if done and max(done) > LATEST_VERSION:
        raise StoreError(
            f"The store's schema is version {max(done)}, newer than this MarketLoop knows ({LATEST_VERSION})",
            hint="Upgrade MarketLoop (pip install -U marketloop) before using this store.",
        )
    applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        with store.begin() as conn:
            migration.upgrade(conn)
            conn.execute(
                schema.schema_migrations.insert().values(
                    version=migration.version,
                    name=migration.name[:128],
                    applied_at=wall_utcnow(),
                )
            )
        log.info("applied migration %s: %s", migration.version, migration.name)
        applied.append(migration.version)
    return applied


def current_version(store) -> int:  # noqa: ANN001
    with store.begin() as conn:
        done = applied_versions(conn)
    return max(done) if done else 0
