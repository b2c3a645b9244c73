"""The profile refresh on Spark: the same profiles as :func:`marketloop.customers.profile.build_profiles`.

How the work is split (see :mod:`marketloop.engines`):

1. the orders become transactions with the store's rule (cancelled and pending orders left out) and are
   repartitioned by customer, so that a partition holds every order of its customers;
2. a customer pass runs the customer package's own functions on each partition (``rfm_facts``,
   ``rfm_summary``, ``behaviour_features``, the horizon snapshots and labels): every value they give a
   customer depends on that customer's orders alone;
3. what is global is computed distributedly: the RFM percentile ranks (average rank of ties, as pandas
   does, from counts per distinct value in range partitions), the store's median cadence and the
   high-value cut (exact percentiles), the data checks (aggregates judged by ``judge_transactions``);
4. the models are fitted on the driver: BG/NBD + Gamma-Gamma on the RFM summaries (a sample beyond the
   model's cap), the churn and propensity classifiers on the stacked training snapshots of a sample of
   customers, validated on the validation snapshot (a sample beyond ``VALIDATION_CAP`` customers);
5. the interests and last activity come from the store's own portable SQL, run as Spark SQL;
6. a scoring pass applies the fitted models to every partition (a pandas UDF) and assembles the profile
   rows with ``assemble_profiles``; they are written to Parquet and from there into the store in one
   transaction (``bulk.insert_parquet``).

On a store small enough for every sample to be the whole population, the fits see the same rows in the same
order as on DuckDB, so counts, sums, scores, segments and model outputs are the same; only the simulated
CLV interval (``clv_low`` / ``clv_high``, Monte Carlo draws taken per partition) differs within its noise.
"""

from __future__ import annotations

import datetime as dt
import glob
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from marketloop.clock import utcnow
from marketloop.customers.churn import BAND_NAMES, MAX_TRAIN_ROWS
from marketloop.customers.features import FEATURES, behaviour_features, no_purchase_labels, training_snapshots
from marketloop.customers.horizon import SNAPSHOTS, HorizonInputs, HorizonModel, fit_horizon
from marketloop.customers.interests import interest_query, price_band_case, tags_json
from marketloop.customers.lifecycle import activity_query, lifecycle_stages
from marketloop.customers.profile import (
    PROFILE_COLUMNS,
    AnalyzeConfig,
    assemble_profiles,
    band_report,
    build_report,
    check_config,
    step_timer,
)
from marketloop.customers.rfm import rfm_facts, score_from_rank, segment_columns
from marketloop.customers.transactions import History, TransactionFacts, finish_frame, judge_transactions, rfm_summary
from marketloop.engines.spark.sql import spark_sql
from marketloop.errors import InputError
from marketloop.store import schema
from marketloop.store.bulk import insert_parquet

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

#: customers whose validation snapshot the classifiers are validated on, at most (a hash sample beyond)
VALIDATION_CAP = 1_000_000
#: orders per partition of the customer passes, about (more partitions on bigger stores)
ORDERS_PER_PARTITION = 1_000_000

FACT_COLUMNS = ("first_order_at", "last_order_at", "orders", "returns", "revenue", "recency_days", "frequency")
SUMMARY_COLUMNS = ("s_frequency", "s_recency", "s_T", "s_monetary_value")


def _schema(columns: list[tuple[str, str]]) -> str:
    return ", ".join(f"`{name}` {kind}" for name, kind in columns)


def _partition(batches: Iterator[pd.DataFrame]) -> pd.DataFrame:
    """All rows of a partition in one frame (Spark hands a partition over in Arrow batches)."""
    frames = [b for b in batches if len(b)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _transactions(part: pd.DataFrame) -> pd.DataFrame:
    return finish_frame(part[["customer_id", "ts", "amount", "is_return"]], source="partition")


def _summary(history: History, day: dt.date, unit: float, prefix: str = "s_") -> pd.DataFrame:
    s = rfm_summary(history, day, unit).set_index("customer_id")
    return s.rename(columns={c: prefix + c for c in s.columns})


@dataclass(frozen=True)
class _Plan:
    as_of: dt.date
    unit: float
    horizons: tuple[int, int]


def _now_pass(plan: _Plan) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Per partition: RFM facts, the RFM summary and the behaviour features at ``as_of``, one row a customer."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        part = _partition(batches)
        if part.empty:
            return
        tx = _transactions(part)
        history = History.of(tx)
        facts = rfm_facts(tx, plan.as_of)
        if facts.empty:
            return
        out = facts[list(FACT_COLUMNS)].join(_summary(history, plan.as_of, plan.unit))
        out = out.join(behaviour_features(history, plan.as_of).add_prefix("x_"))
        yield out.reset_index(names="customer_id")

    return run


def _snapshot_pass(plan: _Plan) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Per partition, for each horizon H: features, no-purchase label and RFM summary at the validation
    snapshot ``as_of - H`` of the customers flagged ``__valid`` ("valid" rows), and the stacked training
    snapshots ending at ``as_of - 2H`` ("train") and ``as_of - H`` ("final") of those flagged ``__train``,
    with the snapshot number for the order the classifier sees them in. One pass serves both horizons."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        part = _partition(batches)
        if part.empty:
            return
        valid = History.of(_transactions(part[part["__valid"]]))
        train = History.of(_transactions(part[part["__train"]]))
        for horizon in plan.horizons:
            day = plan.as_of - dt.timedelta(days=horizon)
            X = behaviour_features(valid, day)
            if not X.empty:
                out = X.add_prefix("x_")
                out["y"] = no_purchase_labels(valid, X.index, day, horizon).to_numpy()
                out = out.join(_summary(valid, day, plan.unit))
                yield out.reset_index(names="customer_id").assign(horizon=horizon, stack="valid", snapshot=0)
            ends = {"train": plan.as_of - dt.timedelta(days=2 * horizon), "final": day}
            for stack, end in ends.items():
                for k in range(SNAPSHOTS):
                    X, y = training_snapshots(train, end - dt.timedelta(days=k * 14), horizon, count=1)
                    if X.empty:
                        continue
                    out = X.add_prefix("x_")
                    out["y"] = y
                    for column in SUMMARY_COLUMNS:  # the validation rows' columns, unused here
                        out[column] = np.nan
                    yield out.reset_index(names="customer_id").assign(horizon=horizon, stack=stack, snapshot=k)

    return run


FEATURE_SCHEMA = [(f"x_{f}", "double") for f in FEATURES]
SUMMARY_SCHEMA = [(c, "double") for c in SUMMARY_COLUMNS]
NOW_SCHEMA = _schema(
    [
        ("customer_id", "string"),
        ("first_order_at", "timestamp"),
        ("last_order_at", "timestamp"),
        ("orders", "bigint"),
        ("returns", "bigint"),
        ("revenue", "double"),
        ("recency_days", "bigint"),
        ("frequency", "bigint"),
        *SUMMARY_SCHEMA,
        *FEATURE_SCHEMA,
    ]
)
SNAPSHOT_SCHEMA = _schema(
    [
        ("customer_id", "string"),
        *FEATURE_SCHEMA,
        ("y", "boolean"),
        *SUMMARY_SCHEMA,
        ("horizon", "int"),
        ("stack", "string"),
        ("snapshot", "int"),
    ]
)


def _to_pandas(df: DataFrame) -> pd.DataFrame:
    return df.toPandas()


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    X = frame.set_index("customer_id")[[f"x_{f}" for f in FEATURES]]
    X.columns = list(FEATURES)
    X.index.name = "customer_id"
    return X.astype(float)


def _summary_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str).to_numpy(),
            "frequency": frame["s_frequency"].to_numpy(dtype=float),
            "recency": frame["s_recency"].to_numpy(dtype=float),
            "T": frame["s_T"].to_numpy(dtype=float),
            "monetary_value": frame["s_monetary_value"].to_numpy(dtype=float),
        }
    )


def _hash_sample(df: DataFrame, share: float, seed: int) -> DataFrame:
    """A deterministic sample of customers (by a hash of the id), the same rows on every run."""
    return df if share >= 1 else df.where(_in_sample(share, seed))


def _in_sample(share: float, seed: int):  # noqa: ANN202 - a pyspark Column
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    if share >= 1:
        return F.lit(True)
    bucket = F.pmod(F.xxhash64(F.col("customer_id"), F.lit(seed)), F.lit(1_000_000))
    return bucket < int(share * 1_000_000)


def _rank_pct(df: DataFrame, columns: dict[str, bool]) -> DataFrame:
    """customer_id and, per column of ``columns`` (name -> ascending), ``<name>_pct``: the percentile rank
    (average rank of ties / population) as pandas' ``rank(method="average", pct=True)`` computes it, without
    a single-partition window. The counts per (column, distinct value) are range-partitioned, summed per
    partition on the driver (one row a partition and column) and turned into cumulative counts with a window
    inside each partition; one job serves every column."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    stacked = None
    for name, ascending in columns.items():
        key = F.col(name).cast("double") if ascending else -F.col(name).cast("double")
        part = df.select("customer_id", F.lit(name).alias("col"), key.alias("v"))
        stacked = part if stacked is None else stacked.unionByName(part)
    counts = stacked.groupBy("col", "v").agg(F.count(F.lit(1)).alias("c"))
    parts = max(1, df.sparkSession.sparkContext.defaultParallelism)
    counts = counts.repartitionByRange(parts, "col", "v").withColumn("pid", F.spark_partition_id()).localCheckpoint()
    sums = counts.groupBy("col", "pid").agg(F.sum("c").alias("n")).collect()
    offsets: dict[tuple[str, int], int] = {}
    population: dict[str, int] = {}
    for row in sorted(sums, key=lambda r: (r["col"], r["pid"])):
        offsets[(row["col"], row["pid"])] = population.get(row["col"], 0)
        population[row["col"]] = population.get(row["col"], 0) + int(row["n"])
    offset = F.create_map(*[x for (c, pid), off in offsets.items() for x in (F.lit(f"{c}/{pid}"), F.lit(off))])
    size = F.create_map(*[x for c, n in population.items() for x in (F.lit(c), F.lit(float(n)))])
    window = Window.partitionBy("col", "pid").orderBy("v").rowsBetween(Window.unboundedPreceding, -1)
    below = F.coalesce(F.sum("c").over(window), F.lit(0)) + offset[F.concat_ws("/", "col", F.col("pid").cast("string"))]
    c = F.col("c").cast("double")
    avg = (c * below.cast("double") + c * (c + 1) / 2) / c
    ranked = counts.select("col", "v", (avg / size[F.col("col")]).alias("pct"))
    pct = stacked.join(ranked, ["col", "v"]).groupBy("customer_id").pivot("col", list(columns)).agg(F.first("pct"))
    return pct.select("customer_id", *[F.col(name).alias(f"{name}_pct") for name in columns])


def _check_data(spark: SparkSession, as_of: dt.date, config: AnalyzeConfig) -> dict[str, object]:
    today = max(as_of, utcnow().date())
    limit = dt.datetime.combine(today + dt.timedelta(days=3), dt.time())  # 2 days' tolerance, as on DuckDB
    row = spark.sql(
        f"""
        SELECT count(*) AS rows,
               count_if(ts >= TIMESTAMP '{limit:%Y-%m-%d %H:%M:%S}') AS future_orders,
               min(CASE WHEN ts >= TIMESTAMP '{limit:%Y-%m-%d %H:%M:%S}' THEN ts END) AS first_future,
               count(DISTINCT customer_id) AS customers,
               count_if(customer_id IS NOT NULL AND NOT is_return) AS purchases,
               count(DISTINCT CASE WHEN NOT is_return THEN customer_id END) AS purchase_customers,
               min_by(CASE WHEN customer_id IS NOT NULL AND NOT is_return THEN customer_id END,
                      CASE WHEN customer_id IS NOT NULL AND NOT is_return THEN ts END) AS first_customer,
               count_if(customer_id IS NOT NULL AND is_return) AS returns,
               count_if(customer_id IS NULL) AS guest_orders,
               coalesce(sum(CASE WHEN customer_id IS NULL THEN amount END), 0.0) AS guest_revenue,
               min(CASE WHEN customer_id IS NOT NULL AND NOT is_return THEN CAST(ts AS DATE) END) AS first_day,
               max(CASE WHEN customer_id IS NOT NULL AND NOT is_return THEN CAST(ts AS DATE) END) AS last_day
        FROM __tx
        """
    ).collect()[0]
    day = lambda v: None if v is None else pd.Timestamp(v)  # noqa: E731
    facts = TransactionFacts(
        rows=int(row["rows"]),
        orders=int(row["rows"]),
        future_orders=int(row["future_orders"]),
        first_future=day(row["first_future"]),
        customers=int(row["customers"]),
        purchases=int(row["purchases"]),
        purchase_customers=int(row["purchase_customers"]),
        first_customer=row["first_customer"],
        returns=int(row["returns"]),
        guest_orders=int(row["guest_orders"]),
        guest_revenue=float(row["guest_revenue"]),
        first_day=day(row["first_day"]),
        last_day=day(row["last_day"]),
    )
    return judge_transactions(facts, min_history_days=config.min_history_days, today=today).as_dict()


def default_as_of(spark: SparkSession) -> dt.date:
    """The day of the last order (as on DuckDB: profiles describe the data, not the wall clock)."""
    last = spark.sql("SELECT max(ordered_at) FROM orders").collect()[0][0]
    if last is None:
        raise InputError(
            "the store has no orders",
            field="orders",
            value=0,
            hint="Load orders first: marketloop ingest / marketloop import.",
        )
    return pd.Timestamp(last).date()


def _profile_schema() -> str:
    kinds = {"DATETIME": "timestamp", "BOOLEAN": "boolean", "FLOAT": "double", "INTEGER": "bigint", "DATE": "date"}
    parts = []
    for name in PROFILE_COLUMNS:
        sql_type = type(schema.customer_profiles.c[name].type).__name__.upper()
        parts.append((name, kinds.get(sql_type, "string")))
    return _schema(parts)


def build_profiles_spark(
    spark: SparkSession,
    as_of: dt.date | None,
    config: AnalyzeConfig,
    progress: Callable[[str], None],
    workdir: Path,
) -> tuple[str, dict[str, object]]:
    """Compute the profiles from the registered ``orders``, ``order_lines``, ``events`` and ``products``
    views; returns the folder of the profile Parquet files and the report (as ``build_profiles``'s)."""
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    check_config(config)
    timings: dict[str, float] = {}
    step = step_timer(timings, progress)
    as_of = as_of or default_as_of(spark)
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    spark.sql(
        "SELECT customer_id, ordered_at AS ts, coalesce(total, 0.0) AS amount, "
        "(is_return OR coalesce(total, 0.0) < 0) AS is_return FROM orders "
        f"WHERE status NOT IN ('cancelled', 'pending') AND ordered_at < TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}' "
        "AND ordered_at IS NOT NULL"
    ).createOrReplaceTempView("__tx")
    data = _check_data(spark, as_of, config)
    n_orders = int(data["orders"])
    parts = max(spark.sparkContext.defaultParallelism, -(-n_orders // ORDERS_PER_PARTITION))
    tx = spark.table("__tx").where("customer_id IS NOT NULL").repartition(parts, "customer_id").cache()
    plan = _Plan(as_of, config.time_unit_days, (config.churn_horizon_days, config.propensity_days))
    step("read orders")

    now = tx.mapInPandas(_now_pass(plan), NOW_SCHEMA).cache()
    n_customers = now.count()
    rfm = now.select("customer_id", "recency_days", "frequency", "revenue")
    pct = _rank_pct(rfm, {"recency_days": False, "frequency": True, "revenue": True}).withColumnsRenamed(
        {"recency_days_pct": "r_pct", "frequency_pct": "f_pct", "revenue_pct": "m_pct"}
    )
    step("RFM segments")

    clv = config.make_clv()
    fit_share = min(1.0, 1.05 * clv.max_fit_customers / max(n_customers, 1))
    summary = _to_pandas(_hash_sample(now.select("customer_id", *SUMMARY_COLUMNS), fit_share, 1))
    summary = _summary_frame(summary.sort_values("customer_id", kind="stable").reset_index(drop=True))
    clv.fit(summary)
    step("lifetime value")

    models: dict[str, HorizonModel] = {}
    snapshots = _snapshots(tx, plan, n_customers, config.random_state)
    for event, horizon in (("churn", config.churn_horizon_days), ("purchase", config.propensity_days)):
        inputs = _horizon_inputs(snapshots[snapshots["horizon"] == horizon], plan, horizon)
        models[event] = fit_horizon(
            inputs, clv, event=event, make_clv=config.make_clv, random_state=config.random_state
        )
        step("churn risk" if event == "churn" else "30-day propensity")
    step("next order dates")

    interests = _interests(spark, as_of, config)
    step("interest tags")
    activity = spark_sql(spark, activity_query(as_of))
    own = (
        activity.join(now.select("customer_id"), "customer_id")
        .where("active_days >= 2")
        .select((F.datediff("last_active_day", "first_active_day") / (F.col("active_days") - 1)).alias("own"))
    )
    typical_row = own.where("own IS NOT NULL").agg(F.percentile("own", 0.5).alias("m"), F.count("own").alias("n"))
    typical_row = typical_row.collect()[0]
    typical = float(typical_row["m"]) if typical_row["n"] else None
    step("activity and lifecycle stage")

    joined = (
        now.join(pct, "customer_id")
        .join(activity, "customer_id", "left")
        .join(interests, "customer_id", "left")
        .repartition(parts, "customer_id")
    )
    computed_at = utcnow()
    scorer = _scoring_pass(plan, config, clv, models, typical, computed_at)
    profiles = joined.mapInPandas(scorer, _profile_schema()).cache()
    clv_col = F.when(F.isnan("clv"), None).otherwise(F.col("clv"))
    cut_row = profiles.agg(F.percentile(clv_col, 1 - config.high_value_share).alias("cut")).collect()[0]
    cut = float(cut_row["cut"]) if cut_row["cut"] is not None else float("inf")
    profiles = profiles.withColumn("high_value", (F.col("clv") >= F.lit(cut)) & (F.col("clv") > 0))
    # churn bands are quantiles over the whole store (each partition was scored without them), exactly as
    # numpy's linear-interpolation quantiles in the DuckDB pass
    risk = F.coalesce(F.col("churn_probability"), F.lit(1.0))
    at = [float(x) for x in np.cumsum(config.band_shares)[:-1]]
    band_row = profiles.agg(F.percentile(risk, at).alias("cuts")).collect()[0]
    band_cuts = tuple(float(c) for c in band_row["cuts"]) if band_row["cuts"] else (np.inf, np.inf, np.inf)
    band = F.when(risk < band_cuts[0], BAND_NAMES[0])
    for name, low in zip(BAND_NAMES[1:-1], band_cuts[1:], strict=True):
        band = band.when(risk < low, name)
    profiles = profiles.withColumn("churn_band", band.otherwise(BAND_NAMES[-1]))
    per_band = profiles.groupBy("churn_band").agg(F.count("*").alias("n"), F.avg("churn_probability").alias("m"))
    band_counts = {r["churn_band"]: int(r["n"]) for r in per_band.collect()}
    band_means = {r["churn_band"]: float(r["m"]) for r in per_band.collect() if r["m"] is not None}
    out = str(workdir / "profiles")
    profiles.select(*PROFILE_COLUMNS).write.mode("overwrite").parquet(out)
    for frame in (profiles, now, tx):
        frame.unpersist()

    report = build_report(
        as_of, config, data, int(n_customers), clv, cut, models["churn"].selection, models["purchase"].selection
    )
    report["churn"]["bands"] = band_report(band_cuts, band_counts, band_means, models["churn"].selection.calibration)
    report["engine"] = "spark"
    report["timings_s"] = timings
    return out, report


def _snapshots(tx: DataFrame, plan: _Plan, n_customers: int, seed: int | None) -> pd.DataFrame:
    """Every row of the snapshot pass: the validation snapshot of every customer (a sample beyond
    VALIDATION_CAP) and the training snapshots of a sample sized like the DuckDB pass's
    (``horizon._training_history``), for both horizons."""
    valid_share = min(1.0, VALIDATION_CAP / max(n_customers, 1))
    train_share = 1.5 * MAX_TRAIN_ROWS / max(1, SNAPSHOTS * n_customers)
    seed = 0 if seed is None else int(seed)
    flagged = tx.withColumn("__valid", _in_sample(valid_share, seed)).withColumn(
        "__train", _in_sample(train_share, seed + 1)
    )
    return _to_pandas(flagged.where("__valid OR __train").mapInPandas(_snapshot_pass(plan), SNAPSHOT_SCHEMA))


def _horizon_inputs(rows: pd.DataFrame, plan: _Plan, horizon: int) -> HorizonInputs:
    """:class:`HorizonInputs` of one horizon from the snapshot rows, in the DuckDB pass's row order."""
    valid = rows[rows["stack"] == "valid"].sort_values("customer_id", kind="stable").reset_index(drop=True)
    train = rows[rows["stack"] != "valid"]
    train = train.sort_values(["snapshot", "customer_id"], kind="stable").reset_index(drop=True)
    stacks = {name: train[train["stack"] == name].reset_index(drop=True) for name in ("train", "final")}
    X_valid = _features(valid) if len(valid) else pd.DataFrame(columns=list(FEATURES), dtype=float)
    summary_valid = _summary_frame(valid)
    return HorizonInputs(
        horizon_days=horizon,
        train_date=plan.as_of - dt.timedelta(days=2 * horizon),
        valid_date=plan.as_of - dt.timedelta(days=horizon),
        X_train=_features(stacks["train"]),
        y_train=stacks["train"]["y"].to_numpy(dtype=bool),
        X_final=_features(stacks["final"]),
        y_final=stacks["final"]["y"].to_numpy(dtype=bool),
        X_valid=X_valid,
        y_valid=valid["y"].to_numpy(dtype=bool),
        summary_valid=summary_valid,
    )


def _interests(spark: SparkSession, as_of: dt.date, config: AnalyzeConfig) -> DataFrame:
    """customer_id and interests_json, from the store's interest query run as Spark SQL."""
    prices = spark.sql("SELECT price FROM products WHERE price IS NOT NULL").toPandas()["price"]
    query = interest_query("duckdb", as_of, price_band_case(prices), config.half_life_days).order_by(None)
    tags = spark_sql(spark, query)

    def to_json(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        part = _partition(batches)
        if part.empty:
            return
        part = part.sort_values(["customer_id", "kind", "rank"], kind="stable")
        docs = tags_json(part)
        yield pd.DataFrame({"customer_id": docs.index.astype(str), "interests_json": docs.to_numpy(dtype=object)})

    return tags.repartition("customer_id").mapInPandas(to_json, "customer_id string, interests_json string")


def _scoring_pass(
    plan: _Plan,
    config: AnalyzeConfig,
    clv,  # noqa: ANN001 - CLVModel
    models: dict[str, HorizonModel],
    typical: float | None,
    computed_at: dt.datetime,
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The pandas UDF that applies the fitted models to a partition and assembles its profile rows."""
    as_of = plan.as_of

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        part = _partition(batches)
        if part.empty:
            return
        part = part.sort_values("customer_id", kind="stable").reset_index(drop=True)
        part["customer_id"] = part["customer_id"].astype(str)
        ids = pd.Index(part["customer_id"], name="customer_id")
        rfm = pd.DataFrame({c: part[c].to_numpy() for c in FACT_COLUMNS}, index=ids)
        rfm["r_score"] = score_from_rank(part["r_pct"].to_numpy(dtype=float), config.rfm.n_bins)
        rfm["f_score"] = score_from_rank(part["f_pct"].to_numpy(dtype=float), config.rfm.n_bins)
        rfm["m_score"] = score_from_rank(part["m_pct"].to_numpy(dtype=float), config.rfm.n_bins)
        rfm = segment_columns(rfm, config.rfm)
        rfm["first_order_at"] = pd.to_datetime(rfm["first_order_at"])
        summary = _summary_frame(part)
        X_now = _features(part)
        value = clv.predict(summary, config.clv_horizon_days).set_index("customer_id")
        churn = models["churn"].score(X_now, summary)
        propensity = models["purchase"].score(X_now, summary)
        waits = clv.next_purchase_days(summary, (0.25, 0.5, 0.75))
        activity = part.set_index("customer_id")[
            ["last_active_at", "first_active_day", "last_active_day", "active_days"]
        ]
        stages = lifecycle_stages(rfm["first_order_at"], activity, as_of, typical)
        interests = part.set_index("customer_id")["interests_json"].dropna()
        frame, _ = assemble_profiles(
            as_of,
            config,
            rfm,
            activity,
            stages,
            value,
            churn,
            propensity,
            waits,
            summary["customer_id"],
            interests,
            cut=float("inf"),  # the store's cut and churn bands are applied once every partition is scored
            band_cuts=(np.inf, np.inf, np.inf),
            computed_at=computed_at,
        )
        yield frame

    return run


def profile_writer(folder: str) -> Callable[[object], int]:
    """Writes the profile Parquet files of ``folder`` on a store connection (for ``write_profiles``)."""
    paths = sorted(glob.glob(str(Path(folder) / "*.parquet")))

    def write(conn) -> int:  # noqa: ANN001 - sqlalchemy Connection
        return insert_parquet(conn, schema.customer_profiles, paths)

    return write
