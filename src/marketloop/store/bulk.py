"""Fast, idempotent bulk writes from the DuckDB workbench into the store, per dialect.

The only dialect-specific code of ingestion lives here:
- DuckDB: the workbench *is* the store's connection, so rows move with one INSERT ... SELECT;
- PostgreSQL: rows are streamed with COPY into a temporary staging table;
- MySQL / MariaDB: rows are sent in multi-row INSERT batches into a temporary staging table.
From the staging relation, the same two statements finish the job on every database: insert the rows
whose natural key is new, and (for dimension tables) update the rows that changed. Everything runs
inside the caller's transaction, so a failure leaves nothing behind.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from marketloop.store.ingest.readers import quote as dq

if TYPE_CHECKING:
    import duckdb

BATCH_ROWS = 100_000


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    existing: int  # rows whose key was already in the store
    updated: int  # of those, rows whose values changed (dimension tables only)


def _q(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def workbench_is_store(dialect: str) -> bool:
    return dialect == "duckdb"


def write_rows(
    conn: Connection,
    dialect: str,
    wb: duckdb.DuckDBPyConnection,
    source_sql: str,
    table: sa.Table,
    columns: list[str],
    key: tuple[str, ...],
    mode: str,
    update_columns: list[str] | None = None,
    rows: int | None = None,
) -> WriteResult:
    """Write the rows of `source_sql` (a workbench query yielding `columns`) into `table`.

    mode "insert" skips rows whose key exists; mode "upsert" also updates existing rows whose values
    differ (only `update_columns`, default all non-key columns, are compared and updated). `rows`, the
    number of rows `source_sql` yields when the caller knows it (with unique keys), lets an insert count
    the rows already stored as ``rows - inserted`` instead of a second pass over the store.
    """
    if workbench_is_store(dialect):
        staging = f"__stage_{uuid.uuid4().hex[:8]}"
        wb.execute(f"CREATE TEMP VIEW {staging} AS {source_sql}")  # same connection: no copy needed
        try:
            return _finish(conn, dialect, staging, table, columns, key, mode, update_columns, rows)
        finally:
            wb.execute(f"DROP VIEW IF EXISTS {staging}")
    staging = f"ml_stage_{uuid.uuid4().hex[:8]}"
    _create_staging(conn, dialect, staging, table)
    reader = wb.sql(source_sql).to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        if batch.num_rows:
            _send(conn, dialect, staging, columns, batch)
    try:
        return _finish(conn, dialect, staging, table, columns, key, mode, update_columns, rows)
    finally:
        conn.execute(sa.text(f"DROP {'TEMPORARY ' if dialect == 'mysql' else ''}TABLE IF EXISTS {staging}"))


def _create_staging(conn: Connection, dialect: str, staging: str, table: sa.Table) -> None:
    if dialect == "postgresql":
        conn.execute(
            sa.text(f"CREATE TEMP TABLE {staging} (LIKE {_q(conn, table.name)} INCLUDING DEFAULTS) ON COMMIT DROP")
        )
    else:
        conn.execute(sa.text(f"CREATE TEMPORARY TABLE {staging} LIKE {_q(conn, table.name)}"))


def _send(conn: Connection, dialect: str, staging: str, columns: list[str], batch: pa.RecordBatch) -> None:
    cols = ", ".join(_q(conn, c) for c in columns)
    if dialect == "postgresql":
        buffer = io.BytesIO()
        pacsv.write_csv(pa.Table.from_batches([batch]), buffer, pacsv.WriteOptions(include_header=False))
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {staging} ({cols}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        return
    placeholders = ", ".join(["%s"] * len(columns))
    rows = list(zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        for start in range(0, len(rows), 5_000):
            cur.executemany(f"INSERT INTO {staging} ({cols}) VALUES ({placeholders})", rows[start : start + 5_000])


def _finish(
    conn: Connection,
    dialect: str,
    staging: str,
    table: sa.Table,
    columns: list[str],
    key: tuple[str, ...],
    mode: str,
    update_columns: list[str] | None,
    rows: int | None = None,
) -> WriteResult:
    q = lambda name: _q(conn, name)  # noqa: E731
    target = q(table.name)
    match = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
    cols = ", ".join(q(c) for c in columns)
    insert = (
        f"INSERT INTO {target} ({cols}) SELECT {', '.join('s.' + q(c) for c in columns)} FROM {staging} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})"
    )
    if mode == "insert" and rows is not None:
        # Facts: one anti-join does it all; every staged key is new or already stored.
        inserted = int(conn.execute(sa.text(insert)).rowcount)
        return WriteResult(inserted, rows - inserted, 0)
    existing = conn.execute(
        sa.text(f"SELECT count(*) FROM {staging} s WHERE EXISTS (SELECT 1 FROM {target} t WHERE {match})")
    ).scalar_one()
    updated = 0
    values = [c for c in (update_columns if update_columns is not None else columns) if c not in key]
    compared = [c for c in values if c != "source"]  # provenance alone is not a change
    if mode == "upsert" and existing and compared:
        differs = _differs(dialect, "t", compared, q)
        updated = conn.execute(
            sa.text(f"SELECT count(*) FROM {staging} s JOIN {target} t ON {match} WHERE {differs}")
        ).scalar_one()
        if updated:
            _update(conn, dialect, staging, target, key, values, compared)
    inserted = conn.execute(sa.text(insert)).rowcount
    return WriteResult(int(inserted), int(existing), int(updated))


def _differs(dialect: str, alias: str, values: list[str], q) -> str:  # noqa: ANN001
    """SQL that is true when any of `values` differs between `alias` and the staging row ``s``."""
    if dialect == "mysql":
        return " OR ".join(f"NOT ({alias}.{q(c)} <=> s.{q(c)})" for c in values)
    return " OR ".join(f"{alias}.{q(c)} IS DISTINCT FROM s.{q(c)}" for c in values)


def _update(
    conn: Connection,
    dialect: str,
    staging: str,
    target: str,
    key: tuple[str, ...],
    values: list[str],
    compared: list[str],
) -> None:
    q = lambda name: _q(conn, name)  # noqa: E731
    if dialect == "mysql":
        match = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
        sets = ", ".join(f"t.{q(c)} = s.{q(c)}" for c in values)
        conn.execute(
            sa.text(
                f"UPDATE {target} t JOIN {staging} s ON {match} SET {sets} WHERE {_differs(dialect, 't', compared, q)}"
            )
        )
        return
    sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in values)
    match = " AND ".join(f"{target}.{q(k)} = s.{q(k)}" for k in key)
    differs = _differs(dialect, target, compared, q)
    conn.execute(sa.text(f"UPDATE {target} SET {sets} FROM {staging} s WHERE {match} AND ({differs})"))


def fetch_keys(conn: Connection, dialect: str, wb, table: sa.Table, column: str, candidates_sql: str, name: str) -> str:  # noqa: ANN001
    """A workbench relation ``name(key)`` with the values of `candidates_sql` that exist in `table`.`column`.

    On DuckDB this is a view over the store table; elsewhere the distinct candidate values are looked
    up in the store in chunks and the hits are copied into the workbench.
    """
    if workbench_is_store(dialect):
        wb.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {dq(column)} AS key FROM {dq(table.name)}")
        return name
    candidates = [
        row[0] for row in wb.execute(f"SELECT DISTINCT key FROM ({candidates_sql}) WHERE key IS NOT NULL").fetchall()
    ]
    found: list[str] = []
    col = table.c[column]
    for start in range(0, len(candidates), 1_000):
        chunk = candidates[start : start + 1_000]
        found.extend(conn.execute(sa.select(col).where(col.in_(chunk))).scalars())
    wb.register(f"{name}_arrow", pa.table({"key": pa.array(found, pa.string())}))
    wb.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT key FROM {name}_arrow")
    wb.unregister(f"{name}_arrow")
    return name


def insert_rows(conn: Connection, table: sa.Table, rows: list[dict], *, chunk: int = 1_000) -> int:
    """Insert plain rows (dicts with the same keys) fast on every dialect, inside the caller's
    transaction: DuckDB reads them as one Arrow table (parameter binding row by row is slow there);
    PostgreSQL and MySQL get multi-row INSERTs of ``chunk`` rows."""
    if not rows:
        return 0
    if conn.dialect.name == "duckdb":
        columns = list(rows[0])
        arrays = {c: [r[c] for r in rows] for c in columns}
        data = pa.table(
            {
                c: pa.array(v, type=_arrow_type(table.c[c].type) if all(x is None for x in v) else None)
                for c, v in arrays.items()
            }
        )
        raw = conn.connection.driver_connection
        name = f"__rows_{uuid.uuid4().hex[:8]}"
        raw.register(name, data)
        try:
            cols = ", ".join(_q(conn, c) for c in columns)
            conn.execute(sa.text(f"INSERT INTO {_q(conn, table.name)} ({cols}) SELECT {cols} FROM {name}"))
        finally:
            raw.unregister(name)
        return len(rows)
    for start in range(0, len(rows), chunk):
        conn.execute(table.insert(), rows[start : start + chunk])
    return len(rows)


def insert_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame, *, chunk: int = 10_000) -> int:
    """Insert every row of `frame` (columns named like the table's) inside the caller's transaction:
    DuckDB scans the DataFrame in place (row-by-row binding is slow there); PostgreSQL and MySQL get
    multi-row INSERTs of `chunk` rows, with missing values sent as NULL."""
    if frame.empty:
        return 0
    cols = ", ".join(_q(conn, c) for c in frame.columns)
    if conn.dialect.name == "duckdb":
        raw = conn.connection.driver_connection
        name = f"__frame_{uuid.uuid4().hex[:8]}"
        raw.register(name, frame)
        try:
            conn.execute(sa.text(f"INSERT INTO {_q(conn, table.name)} ({cols}) SELECT {cols} FROM {name}"))
        finally:
            raw.unregister(name)
        return len(frame)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for start in range(0, len(records), chunk):
        conn.execute(table.insert(), records[start : start + chunk])
    return len(frame)


def insert_parquet(conn: Connection, table: sa.Table, paths: list[str], *, batch_rows: int = BATCH_ROWS) -> int:
    """Insert the rows of Parquet files (columns named like the table's) inside the caller's transaction, in
    bounded memory: DuckDB reads the files itself in one INSERT; PostgreSQL and MySQL get them in batches of
    `batch_rows` through :func:`insert_frame`. This is how a batch engine's results come back to the store."""
    import pyarrow.parquet as pq

    if not paths:
        return 0
    names = [n for n in pq.read_schema(paths[0]).names if n in table.c]
    if conn.dialect.name == "duckdb":
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
        cols = ", ".join(_q(conn, c) for c in names)
        return int(
            conn.execute(
                sa.text(f"INSERT INTO {_q(conn, table.name)} ({cols}) SELECT {cols} FROM read_parquet([{files}])")
            ).rowcount
        )
    total = 0
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_rows, columns=names):
            total += insert_frame(conn, table, batch.to_pandas())
    return total


def _arrow_type(sql_type: sa.types.TypeEngine) -> pa.DataType:
    if isinstance(sql_type, sa.DateTime):
        return pa.timestamp("us")
    if isinstance(sql_type, sa.Boolean):
        return pa.bool_()
    if isinstance(sql_type, (sa.Float, sa.Numeric)):
        return pa.float64()
    if isinstance(sql_type, sa.Integer):
        return pa.int64()
    return pa.string()
