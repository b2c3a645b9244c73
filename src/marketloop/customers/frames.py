"""Moving DataFrames in and out of the store fast.

Profiles are refreshed for millions of customers, and row-by-row DB-API transfers dominate the time
on DuckDB. On DuckDB these helpers use its native DataFrame transfer (Arrow) on the same connection
and transaction; on other databases they fall back to portable SQLAlchemy statements.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa


def _compile(store, query: sa.sql.Executable) -> str:  # noqa: ANN001 - Store
    return str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))


def read_frame(store, query: sa.sql.Executable) -> pd.DataFrame:  # noqa: ANN001 - Store
    """Run a SQLAlchemy select and return a DataFrame (DuckDB: native transfer)."""
    if store.dialect != "duckdb":
        return store.read_sql(query)
    with store.connect() as conn:
        return conn.connection.driver_connection.execute(_compile(store, query)).df()
