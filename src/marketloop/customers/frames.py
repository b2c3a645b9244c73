"""Moving DataFrames in and out of the store fast.

Profiles are refreshed for millions of customers, and row-by-row DB-API transfers dominate the time
on DuckDB. On DuckDB these helpers use its native DataFrame transfer (Arrow) on the same connection
and transaction; on other databases they fall back to portable SQLAlchemy statements.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection


def _compile(store, query: sa.sql.Executable) -> str:  # noqa: ANN001 - Store
    return str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))


def read_frame(store, query: sa.sql.Executable) -> pd.DataFrame:  # noqa: ANN001 - Store
    """Run a SQLAlchemy select and return a DataFrame (DuckDB: native transfer)."""
    if store.dialect != "duckdb":
        return store.read_sql(query)
    with store.connect() as conn:
        return conn.connection.driver_connection.execute(_compile(store, query)).df()


def insert_frame(conn: Connection, store, table: sa.Table, frame: pd.DataFrame) -> None:  # noqa: ANN001
    """Insert every row of ``frame`` (columns named like the table's) inside ``conn``'s transaction."""
    if frame.empty:
        return
    if store.dialect == "duckdb":
        raw = conn.connection.driver_connection
        name = f"_ml_insert_{table.name}"
        raw.register(name, frame)
        try:
            cols = ", ".join(f'"{c}"' for c in frame.columns)
            raw.execute(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM {name}')
        finally:
            raw.unregister(name)
        return
    records: list[dict[str, Any]] = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for start in range(0, len(records), 10_000):
        conn.execute(table.insert(), records[start : start + 10_000])
