"""Getting a SparkSession: PySpark and Java checked with a clear error, settings from ``config.py``."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from typing import TYPE_CHECKING

from marketloop.errors import DependencyError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from marketloop.config import Settings


def java_available() -> bool:
    """True when a Java runtime is on PATH or JAVA_HOME (PySpark starts a JVM)."""
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and os.path.exists(os.path.join(home, "bin", "java"))))


def spark_session(settings: Settings | None = None) -> SparkSession:
    """The process's SparkSession (created on first use) for ``settings``' master and tuning.

    ``spark_master`` is ``local[N]`` on one machine or a cluster URL; when a session already runs (under
    ``spark-submit``, or a test's) it is reused as it is."""
    from marketloop.config import get_settings

    settings = settings or get_settings()
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DependencyError(
            "the Spark engine needs PySpark", hint="pip install 'marketloop[spark]' (and Java 17)"
        ) from None
    # PySpark 4 warns on every pandas conversion that it has not certified pandas 3 yet; the engine's parity
    # tests are what certify the conversions it uses.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if not java_available():
        raise DependencyError(
            "the Spark engine needs a Java runtime (none on PATH or JAVA_HOME)",
            hint="Install OpenJDK 17 (apt-get install openjdk-17-jre-headless) or use --engine duckdb.",
        )
    # Executors run the same Python as the driver: they call MarketLoop's own functions.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName("marketloop")
        .master(settings.spark_master)
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.default.parallelism", str(settings.spark_shuffle_partitions))
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.executorEnv.PYTHONWARNINGS", "ignore:PySpark does not yet fully support pandas:FutureWarning")
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        # the store's SQL follows DuckDB, where x / 0 is NULL: Spark's non-ANSI mode agrees
        .config("spark.sql.ansi.enabled", "false")
    )
    for key, value in settings.spark_conf.items():
        builder = builder.config(key, str(value))
    # Spark's own log: errors only, from the start (its WARN lines on stderr say nothing a user can act on)
    log4j = os.path.join(os.path.dirname(__file__), "log4j2.properties")
    builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}")
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
