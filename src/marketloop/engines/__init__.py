"""Batch engines: the one place that knows whether a batch job runs on DuckDB or on Spark.

The heavy batch jobs (the profile refresh: RFM, windows, interests, CLV and churn scoring; ALS training and
the for-you lists; uplift scoring of a campaign audience) run on one of two engines with the same results:

- ``duckdb`` (default): one process, the store's own SQL and the customer and recommendation models in
  memory (what :mod:`marketloop.customers.profile` and :mod:`marketloop.recs.training` do);
- ``spark``: PySpark (local mode on one machine, ``spark-submit`` on a cluster). Per-customer work runs
  partition by partition through the *same* functions (a partition holds all rows of its customers, and
  every per-customer value depends on that customer's rows alone); the store's portable SQL runs as Spark
  SQL (translated by sqlglot); models are fitted on the driver on a sample and applied everywhere as
  pandas UDFs. Facts come from the store or from a folder of Parquet / Delta tables (a file system or
  object-store path); results go back to the store in batches, so serving stays on the store.

Choose with ``--engine`` on `marketloop analyze` and `marketloop recs train`, or the ``engine`` setting.
"""

from __future__ import annotations

from marketloop.errors import InputError

ENGINES = ("duckdb", "spark")


def check_engine(name: str) -> str:
    """``name`` when it is a known engine, else an InputError that lists them."""
    if name not in ENGINES:
        raise InputError(
            f"engine {name!r} is not known (expected one of: {', '.join(ENGINES)})",
            field="engine",
            value=name,
            hint="Use --engine duckdb (one machine) or --engine spark (PySpark, local or a cluster).",
        )
    return name
