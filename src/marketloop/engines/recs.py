"""`marketloop recs train --engine ...`: recommendation training on the chosen engine."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.engines import check_engine
from marketloop.errors import InputError

if TYPE_CHECKING:
    from marketloop.config import Settings
    from marketloop.recs.registry import ModelVersion
    from marketloop.store.engine import Store


def train(
    store: Store,
    models_dir: Path,
    *,
    engine: str = "duckdb",
    source: str | None = None,
    settings: Settings | None = None,
    promote: bool = True,
    n_lists: int = 50,
    on_step: Callable[[str], None] | None = None,
    **duckdb_options: object,
) -> list[ModelVersion]:
    """Train on ``engine``. DuckDB: every served model (``recs.training.train_from_store``). Spark: ALS on
    MLlib from the store or the folder ``source``, registered (and promoted) as an ``als`` version, and
    every customer's top ``n_lists`` products written to ``recs_lists`` for that version."""
    check_engine(engine)
    step = on_step or (lambda _s: None)
    if engine == "duckdb":
        if source is not None:
            raise InputError(
                "--input needs --engine spark (the DuckDB engine trains on the store's own tables)",
                field="input",
                value=source,
                hint="Load the folder first (marketloop ingest dataset DIR), or pass --engine spark.",
            )
        from marketloop.recs.training import train_from_store

        return train_from_store(store, models_dir, promote=promote, on_step=on_step, **duckdb_options)
    from marketloop.config import get_settings
    from marketloop.engines.spark.als import train_als
    from marketloop.engines.spark.session import spark_session
    from marketloop.engines.spark.tables import export_store, register_tables
    from marketloop.recs.factor import ALS
    from marketloop.recs.registry import ModelRegistry
    from marketloop.store import schema

    settings = settings or get_settings()
    spark = spark_session(settings)
    work = Path(tempfile.mkdtemp(prefix="marketloop-spark-"))
    try:
        step("reading interactions")
        root = source or export_store(store, work / "store")
        register_tables(spark, root)
        step("als (Spark MLlib)")
        products = spark.sql("SELECT CAST(product_id AS STRING) AS id FROM products WHERE coalesce(is_product, TRUE)")
        result = train_als(spark, ALS(), n=n_lists, products=products)
        reg = ModelRegistry(store, models_dir)
        snapshot = {"events": result.interactions, "engine": "spark", "input": source or "store"}
        version = reg.register(result.model, snapshot, {"engine": "spark"})
        step("for-you lists")
        folder = work / "lists"
        result.lists.write.mode("overwrite").parquet(str(folder))
        paths = sorted(str(p) for p in folder.glob("*.parquet"))
        t = schema.recs_lists
        with store.begin() as conn:
            conn.execute(t.delete().where(t.c.model == version.name, t.c.version == version.version))
            _insert_lists(conn, paths, version.name, version.version)
        if promote:
            version = reg.promote(version.name, version.version)
        return [version]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _insert_lists(conn: sa.Connection, paths: list[str], model: str, version: int) -> int:
    """The list Parquet files into ``recs_lists`` with the version's name, number and time, in batches."""
    import pyarrow.parquet as pq

    from marketloop.store import schema
    from marketloop.store.bulk import BATCH_ROWS, insert_frame

    now = utcnow().replace(microsecond=0)
    total = 0
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(BATCH_ROWS):
            frame = batch.to_pandas().assign(model=model, version=version, computed_at=now)
            total += insert_frame(conn, schema.recs_lists, frame)
    return total
