"""Connecting to a store by URL.

``duckdb:///path.duckdb`` (embedded, the default), ``postgresql://user@host:port/db`` and
``mysql://user@host:port/db`` (MySQL or MariaDB) all give the same :class:`Store`: the same schema,
the same ingestion and the same analytical queries. Dialect differences are confined to
``store/bulk.py`` (fast bulk loading) and are covered by one contract test suite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from marketloop.errors import DependencyError, InputError, NotFoundError, StoreError

log = logging.getLogger(__name__)

_DRIVERS = {
    "duckdb": ("duckdb", None),
    "postgresql": ("postgresql+psycopg", "postgres"),
    "postgres": ("postgresql+psycopg", "postgres"),
    "mysql": ("mysql+pymysql", "mysql"),
    "mariadb": ("mysql+pymysql", "mysql"),
}


def normalise_url(url: str) -> sa.URL:
    """Turn a user URL into a SQLAlchemy URL with the driver MarketLoop uses for that database."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(
            f"db URL {url!r} is not a valid URL",
            field="db_url",
            value=url,
            hint="Use duckdb:///marketloop.duckdb, postgresql://user@host:5432/db or mysql://user@host:3306/db.",
        ) from None
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise InputError(
            f"db URL scheme {backend!r} is not supported (expected duckdb, postgresql or mysql)",
            field="db_url",
            value=url,
            hint="Use duckdb:///marketloop.duckdb, postgresql://user@host:5432/db or mysql://user@host:3306/db.",
        )
    driver, _extra = _DRIVERS[backend]
    if parsed.drivername != driver and "+" not in parsed.drivername:
        parsed = parsed.set(drivername=driver)
    if backend == "mysql" or backend == "mariadb":
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def redact(url: str | sa.URL) -> str:
    """The URL with any password hidden, safe for logs and messages."""
    try:
        parsed = url if isinstance(url, sa.URL) else make_url(url)
    except ArgumentError:
        return "<invalid url>"
    return parsed.render_as_string(hide_password=True)


@dataclass
class Store:
    """A connected MarketLoop store.

    Use :func:`open_store` to create one; it applies pending migrations. ``dialect`` is one of
    ``duckdb``, ``postgresql`` and ``mysql``.
    """

    engine: Engine
    url: sa.URL
    dialect: str
    _closed: bool = field(default=False, repr=False)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on any error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def read_sql(self, query: str | sa.sql.Executable, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame (portable SQL or a SQLAlchemy expression)."""
        statement = sa.text(query) if isinstance(query, str) else query
        with self.engine.connect() as conn:
            result = conn.execute(statement, params or {})
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def scalar(self, query: str | sa.sql.Executable, params: dict[str, Any] | None = None) -> Any:
        statement = sa.text(query) if isinstance(query, str) else query
        with self.engine.connect() as conn:
            return conn.execute(statement, params or {}).scalar()

    def count(self, table_name: str) -> int:
        return int(self.scalar(sa.select(sa.func.count()).select_from(sa.table(table_name))))

    def counts(self) -> dict[str, int]:
        """Row count of every canonical table."""
        from marketloop.store.schema import metadata

        return {name: self.count(name) for name in metadata.tables if name != "schema_migrations"}

    def close(self) -> None:
        if not self._closed:
            self.engine.dispose()
            self._closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dialect(sa_url: sa.URL) -> str:
    backend = sa_url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return "postgresql"
    return "mysql" if backend in ("mysql", "mariadb") else "duckdb"


def duckdb_path(url: str | sa.URL) -> Path | None:
    """The file of a ``duckdb:///`` URL (None for other databases and for ``:memory:``)."""
    sa_url = url if isinstance(url, sa.URL) else normalise_url(url)
    database = sa_url.database
    if _dialect(sa_url) != "duckdb" or not database or database == ":memory:":
        return None
    return Path(database).expanduser()


def open_store(url: str | None = None, *, migrate: bool = True, create: bool = True) -> Store:
    """Connect to the store at `url` (default: settings' ``db_url``) and bring its schema up to date.

    ``create=False`` opens only a store that already exists: a DuckDB file that is not there, or a
    PostgreSQL / MySQL database without MarketLoop's tables, raises :class:`NotFoundError` naming it, and
    nothing is created (no file, no folder, no table). Commands that only read or that need data open
    stores this way, so a mistyped ``--db`` is an error rather than a new empty store.
    """
    if url is None:
        from marketloop.config import get_settings

        url = get_settings().db_url
    sa_url = normalise_url(url)
    dialect = _dialect(sa_url)
    backend = sa_url.get_backend_name()
    kwargs: dict[str, Any] = {}
    if dialect == "duckdb":
        database = sa_url.database
        path = duckdb_path(sa_url)
        if path is not None and not create and not path.is_file():
            raise NotFoundError(
                f"no store at {path}: the file does not exist",
                hint="Check the path given by --db, MARKETLOOP_DB_URL or marketloop.toml; a new store is created "
                "by loading data (`marketloop import ...`, `marketloop ingest ...`, `marketloop sim generate --load`) "
                "or by `marketloop db migrate`.",
            )
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["poolclass"] = (
            sa.pool.SingletonThreadPool if not database or database == ":memory:" else sa.pool.QueuePool
        )
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(sa_url, **kwargs)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except NoSuchModuleError:
        raise DependencyError(
            f"No database driver for {backend!r} is installed",
            hint=f"pip install 'marketloop[{_DRIVERS[backend][1]}]'",
        ) from None
    except ModuleNotFoundError as exc:
        extra = _DRIVERS[backend][1] or backend
        raise DependencyError(
            f"The database driver {exc.name!r} is not installed",
            hint=f"pip install 'marketloop[{extra}]'",
        ) from None
    except Exception as exc:  # noqa: BLE001 - any connection failure is translated for the user below
        text = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
        hint = "Check that the server is running and the URL (user, host, port, database) is right."
        if dialect == "duckdb" and "lock" in text.lower():
            hint = (
                "Another process holds this DuckDB file (a running `marketloop serve`?). "
                "Stop it, or point --db at another file."
            )
        raise StoreError(f"Cannot open store {redact(sa_url)}: {text}", hint=hint) from None
    store = Store(engine=engine, url=sa_url, dialect=dialect)
    if not create and not sa.inspect(engine).has_table("schema_migrations"):
        engine.dispose()
        raise NotFoundError(
            f"no MarketLoop store in {redact(sa_url)}: the {'file' if dialect == 'duckdb' else 'database'} "
            "has no MarketLoop tables",
            hint="Check the database name in --db / MARKETLOOP_DB_URL; create the store in it with "
            "`marketloop db migrate` or by loading data (`marketloop import ...`, `marketloop ingest ...`).",
        )
    if migrate:
        from marketloop.store.migrations import migrate as run_migrations

        run_migrations(store)
    return store
