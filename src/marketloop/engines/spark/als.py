"""ALS on Spark MLlib and the batch for-you lists.

The interactions are the store's (``recs.sources.store_interactions``'s rules: purchases rate 4, add to cart
3, wishlist 2, view 1, non-products left out), summed per customer and product; the confidence is
``1 + alpha * log1p(sum)``, as :class:`marketloop.recs.factor.ALS` gives `implicit`. MLlib fits the factors
(``implicitPrefs``, the same rank, regularisation, alpha, iterations and seed); every customer's top-n
unseen products are scored partition by partition with :func:`marketloop.recs.base.top_n` against the
broadcast item factors, and written to the store's ``recs_lists`` in batches. The factors also become an
``als`` model version in the registry, so the serving path reads them like any other model.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from marketloop.errors import InputError
from marketloop.recs.base import top_n
from marketloop.recs.factor import ALS
from marketloop.recs.sources import TAOBAO_WEIGHTS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

EVENT_WEIGHTS = {"view": 1.0, "wishlist": 2.0, "add_to_cart": 3.0}


def interactions_sql() -> str:
    """Spark SQL over the registered views: one row per (user, item) with the summed rating."""
    weights = " ".join(f"WHEN '{k}' THEN {v}" for k, v in EVENT_WEIGHTS.items())
    return f"""
    WITH buys AS (
        SELECT o.customer_id AS user, l.product_id AS item, {TAOBAO_WEIGHTS["buy"]} AS rating
        FROM order_lines l JOIN orders o ON l.order_id = o.order_id
        WHERE o.customer_id IS NOT NULL AND NOT o.is_return AND l.quantity > 0
          AND o.status IN ('completed', 'pending')
    ),
    views AS (
        SELECT customer_id AS user, product_id AS item, CASE event_type {weights} END AS rating FROM events
        WHERE customer_id IS NOT NULL AND product_id IS NOT NULL
          AND event_type IN ({", ".join(f"'{k}'" for k in EVENT_WEIGHTS)})
    ),
    known_items AS (
        SELECT DISTINCT item FROM (SELECT item FROM buys UNION ALL SELECT item FROM views)
        WHERE item NOT IN (SELECT product_id FROM products WHERE NOT coalesce(is_product, TRUE))
    )
    SELECT CAST(user AS STRING) AS user, CAST(item AS STRING) AS item, sum(rating) AS rating
    FROM (SELECT * FROM buys UNION ALL SELECT * FROM views)
    WHERE item IN (SELECT item FROM known_items)
    GROUP BY user, item
    """


@dataclass
class SparkALSResult:
    model: ALS
    lists: DataFrame  # customer_id, rank, product_id, score
    interactions: int


def _ids(spark: SparkSession, frame: DataFrame, column: str, extra: DataFrame | None = None) -> DataFrame:
    """Dense 0-based indices in sorted id order (the order ``Interactions.from_frame`` uses)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    ids = frame.select(F.col(column).alias("id"))
    if extra is not None:
        ids = ids.union(extra.select(F.col(extra.columns[0]).alias("id")))
    ids = ids.distinct()
    # Ids number at most the catalogue or the customer base; one sorted pass numbers them.
    return ids.select("id", (F.row_number().over(Window.orderBy("id")) - 1).alias("idx"))


def train_als(spark: SparkSession, params: ALS, n: int = 50, products: DataFrame | None = None) -> SparkALSResult:
    """Fit ALS with MLlib on the registered views and score every customer's top ``n`` unseen products."""
    from pyspark.ml.recommendation import ALS as MLlibALS  # noqa: N811 - ours is ALS too
    from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention

    pairs = spark.sql(interactions_sql()).cache()
    count = pairs.count()
    if count == 0:
        raise InputError(
            "the store has no orders or behaviour events to learn from",
            field="db",
            value=0,
            hint="Load data first: marketloop ingest / import ...",
        )
    users = _ids(spark, pairs, "user")
    items = _ids(spark, pairs, "item", products)
    indexed = (
        pairs.join(users.withColumnsRenamed({"id": "user", "idx": "u"}), "user")
        .join(items.withColumnsRenamed({"id": "item", "idx": "i"}), "item")
        .select("u", "i", F.log1p(F.greatest(F.col("rating"), F.lit(0.0))).alias("c"))
        .where("c > 0")
    )
    als = MLlibALS(
        rank=params.factors,
        maxIter=params.iterations,
        regParam=params.regularization,
        alpha=params.alpha,
        implicitPrefs=True,
        userCol="u",
        itemCol="i",
        ratingCol="c",
        seed=params.random_state,
        nonnegative=False,
        coldStartStrategy="drop",
    )
    fitted = als.fit(indexed)
    user_ids = users.orderBy("idx").toPandas()["id"].astype(str).to_numpy()
    item_ids = items.orderBy("idx").toPandas()["id"].astype(str).to_numpy()
    k = params.factors
    item_f = np.zeros((len(item_ids), k), dtype=np.float32)
    rows = fitted.itemFactors.toPandas()
    item_f[rows["id"].to_numpy()] = np.vstack(rows["features"].to_numpy()) if len(rows) else 0
    user_rows = fitted.userFactors.toPandas()
    user_f = np.zeros((len(user_ids), k), dtype=np.float32)
    user_f[user_rows["id"].to_numpy()] = np.vstack(user_rows["features"].to_numpy())
    seen = indexed.select("u", "i").toPandas()
    model = _as_model(params, user_ids, item_ids, user_f, item_f, seen)

    seen_lists = indexed.groupBy("u").agg(F.collect_list("i").alias("seen"))
    factors = fitted.userFactors.withColumnRenamed("id", "u").join(seen_lists, "u")
    lists = factors.mapInPandas(
        _score_lists(spark.sparkContext.broadcast(item_f), user_ids, item_ids, n),
        "customer_id string, rank int, product_id string, score double",
    )
    pairs.unpersist()
    return SparkALSResult(model, lists, int(count))


def _as_model(params: ALS, users: np.ndarray, items: np.ndarray, user_f, item_f, seen: pd.DataFrame) -> ALS:  # noqa: ANN001
    """An :class:`ALS` recommender holding MLlib's factors (saved and served like one fitted by `implicit`)."""
    model = ALS(**params.get_params())
    model.users_, model.items_ = users, items
    model._user_pos = {u: i for i, u in enumerate(users.tolist())}
    model._item_pos = {u: i for i, u in enumerate(items.tolist())}
    model.seen_ = sp.csr_matrix(
        (np.ones(len(seen), dtype=np.float32), (seen["u"].to_numpy(), seen["i"].to_numpy())),
        shape=(len(users), len(items)),
    )
    model.user_factors_, model.item_factors_ = user_f, item_f
    model.fit_seconds_ = math.nan
    return model


def _score_lists(item_factors, user_ids: np.ndarray, item_ids: np.ndarray, n: int):  # noqa: ANN001, ANN202
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        V = item_factors.value
        for batch in batches:
            if batch.empty:
                continue
            U = np.vstack(batch["features"].to_numpy()).astype(np.float32)
            scores = (U @ V.T).astype(np.float64)
            for row, seen in enumerate(batch["seen"].to_numpy()):
                scores[row, np.asarray(seen, dtype=np.int64)] = -np.inf
            idx, vals = top_n(scores, n)
            users = np.repeat(user_ids[batch["u"].to_numpy()], idx.shape[1])
            ranks = np.tile(np.arange(1, idx.shape[1] + 1, dtype=np.int32), len(batch))
            flat, vflat = idx.ravel(), vals.ravel()
            ok = flat >= 0
            yield pd.DataFrame(
                {
                    "customer_id": users[ok],
                    "rank": ranks[ok],
                    "product_id": item_ids[flat[ok]],
                    "score": vflat[ok],
                }
            )

    return run
