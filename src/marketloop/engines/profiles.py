"""`marketloop analyze --engine ...`: the profile refresh on the chosen engine."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from marketloop.customers.profile import AnalyzeConfig, refresh_profiles
from marketloop.engines import check_engine
from marketloop.errors import InputError

if TYPE_CHECKING:
    from marketloop.config import Settings
    from marketloop.store.engine import Store


def _noop(step: str) -> None:
    return None


def analyze(
    store: Store,
    as_of: dt.date | None = None,
    config: AnalyzeConfig | None = None,
    progress: Callable[[str], None] = _noop,
    *,
    force: bool = False,
    engine: str = "duckdb",
    source: str | None = None,
    settings: Settings | None = None,
) -> dict[str, object]:
    """Refresh the store's profiles on ``engine``; ``source`` (Spark only) is a folder of Parquet / Delta
    tables to read the orders, lines, events and products from instead of the store."""
    check_engine(engine)
    if engine == "duckdb":
        if source is not None:
            raise InputError(
                "--input needs --engine spark (the DuckDB engine reads the store's own tables)",
                field="input",
                value=source,
                hint="Load the folder first (marketloop ingest dataset DIR), or pass --engine spark.",
            )
        return refresh_profiles(store, as_of, config, progress, force=force)
    from marketloop.config import get_settings
    from marketloop.engines.spark.profiles import build_profiles_spark, default_as_of, profile_writer
    from marketloop.engines.spark.session import spark_session
    from marketloop.engines.spark.tables import export_store, register_tables

    settings = settings or get_settings()
    spark = spark_session(settings)
    work = Path(
        tempfile.mkdtemp(prefix="marketloop-spark-", dir=settings.cache_dir if settings.cache_dir.exists() else None)
    )
    try:
        root = source or export_store(store, work / "store")
        register_tables(spark, root)
        day = as_of or default_as_of(spark)

        def build(_store: Store, day: dt.date, cfg: AnalyzeConfig, prog: Callable[[str], None]) -> tuple:
            folder, report = build_profiles_spark(spark, day, cfg, prog, work)
            if source is not None:
                report["input"] = source
            return profile_writer(folder), report

        # From a folder the store's fingerprint does not describe the inputs: always recompute.
        return refresh_profiles(store, day, config, progress, force=force or source is not None, build=build)
    finally:
        shutil.rmtree(work, ignore_errors=True)
