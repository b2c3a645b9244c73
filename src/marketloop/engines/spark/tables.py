"""Fact tables for Spark: from a folder of Parquet / Delta tables (file system or object store) or the store.

A folder holds one file or sub-folder per table, named like the store's tables (``orders/``,
``order_lines/``, ``events/``, ``products.parquet``: the layout `marketloop sim generate` writes), with the
store's column names. A sub-folder with a ``_delta_log`` is read as a Delta table (its current snapshot,
through the `deltalake` package). From the store, the tables are first copied to Parquet in a work folder
(DuckDB writes them itself; PostgreSQL and MySQL are streamed in batches), so Spark never holds a database
connection.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from marketloop.errors import DependencyError, InputError, NotFoundError
from marketloop.store import schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from marketloop.store.engine import Store

TABLES = ("orders", "order_lines", "events", "products")
BATCH_ROWS = 200_000


def _is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _table_path(root: str, name: str) -> str | None:
    if _is_remote(root):
        return f"{root.rstrip('/')}/{name}"
    base = Path(root)
    for candidate in (base / name, base / f"{name}.parquet"):
        if candidate.exists():
            return str(candidate)
    return None


def read_table(spark: SparkSession, root: str, name: str, *, required: bool = True) -> DataFrame | None:
    """Table ``name`` of the folder ``root`` as a Spark DataFrame (None when absent and not required)."""
    path = _table_path(root, name)
    if path is None:
        if not required:
            return None
        raise NotFoundError(
            f"the folder {root!r} has no {name} table (expected {name}/ or {name}.parquet)",
            hint="Point --input at a folder like the one `marketloop sim generate` writes.",
        )
    if not _is_remote(path) and (Path(path) / "_delta_log").is_dir():
        try:
            from deltalake import DeltaTable
        except ImportError:
            raise DependencyError(
                f"{path} is a Delta table; reading it needs the deltalake package", hint="pip install deltalake"
            ) from None
        return spark.read.parquet(*DeltaTable(path).file_uris())
    return spark.read.parquet(path)


def export_store(store: Store, folder: Path, names: tuple[str, ...] = TABLES) -> str:
    """Copy the store's tables ``names`` to Parquet files under ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        table = schema.metadata.tables[name]
        target = folder / f"{name}.parquet"
        if store.dialect == "duckdb":
            with store.connect() as conn:
                raw = conn.connection.driver_connection
                escaped = str(target).replace("'", "''")
                raw.execute(f"COPY (SELECT * FROM {name}) TO '{escaped}' (FORMAT parquet)")
            continue
        _stream_to_parquet(store, table, target)
    return str(folder)


def _stream_to_parquet(store: Store, table: sa.Table, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from marketloop.store.bulk import _arrow_type

    arrow_schema = pa.schema([(c.name, _arrow_type(c.type)) for c in table.columns])
    with store.connect() as conn, pq.ParquetWriter(target, arrow_schema) as writer:
        result = conn.execution_options(stream_results=True).execute(sa.select(table))
        while rows := result.fetchmany(BATCH_ROWS):
            columns = list(zip(*rows, strict=True))
            writer.write_table(
                pa.table({f.name: pa.array(list(col), f.type) for f, col in zip(arrow_schema, columns, strict=True)})
            )


def register_tables(spark: SparkSession, root: str, names: tuple[str, ...] = TABLES) -> dict[str, DataFrame]:
    """Read the tables of ``root`` and register each as a temporary view of its own name."""
    frames = {}
    for name in names:
        frame = read_table(spark, root, name, required=name != "events")
        if frame is None:  # a store without behaviour events: an empty table of the right shape
            frame = spark.createDataFrame([], _spark_schema(schema.metadata.tables[name]))
        missing = sorted(
            {c.name for c in schema.metadata.tables[name].columns if c.name != "source"} - set(frame.columns)
        )
        needed = {"orders": {"order_id", "customer_id", "ordered_at", "status", "is_return", "total"}}.get(name)
        if needed and needed & set(missing):
            raise InputError(
                f"the {name} table of {root!r} lacks the columns {sorted(needed & set(missing))}",
                field=name,
                value=sorted(needed & set(missing)),
                hint="Use the store's column names (docs/schema.md).",
            )
        frame.createOrReplaceTempView(name)
        frames[name] = frame
    return frames


def _spark_schema(table: sa.Table) -> str:
    kinds = {sa.DateTime: "timestamp", sa.Boolean: "boolean", sa.Float: "double", sa.Integer: "bigint", sa.Date: "date"}
    parts = []
    for column in table.columns:
        kind = next((v for k, v in kinds.items() if isinstance(column.type, k)), "string")
        parts.append(f"`{column.name}` {kind}")
    return ", ".join(parts)


def work_folder(base: Path) -> Path:
    """A fresh folder under ``base`` for one job's intermediate files."""
    path = base / f"job-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path
