"""The store's portable SQL on Spark: a SQLAlchemy query compiled for DuckDB, translated by sqlglot.

Analytical queries are written once (SQLAlchemy Core, see ``customers/interests.py`` and
``customers/lifecycle.py``); here they are rendered with literal values in DuckDB's dialect and
translated to Spark SQL, then run over the temporary views that :mod:`.tables` registers under the
store's table names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from marketloop.errors import DependencyError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def to_spark_sql(query: sa.sql.Executable) -> str:
    """Spark SQL text of ``query``."""
    try:
        import sqlglot
    except ImportError:
        raise DependencyError("the Spark engine needs sqlglot", hint="pip install 'marketloop[spark]'") from None
    from duckdb_engine import Dialect

    text = str(query.compile(dialect=Dialect(), compile_kwargs={"literal_binds": True}))
    return sqlglot.transpile(text, read="duckdb", write="spark")[0]


def spark_sql(spark: SparkSession, query: sa.sql.Executable) -> DataFrame:
    """Run ``query`` on Spark (lazily: a DataFrame)."""
    return spark.sql(to_spark_sql(query))
