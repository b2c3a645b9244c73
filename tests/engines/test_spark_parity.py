"""The two batch engines give the same results on the same small store (Spark in local mode).

One SparkSession serves the module (local[1], one shuffle partition, UI off). The profiles of a
250-customer store are computed once by each engine: counts, sums, scores, segments, stages, interests,
reasons and model choices must be equal, model probabilities equal within 1e-6; only the Monte Carlo CLV
interval may differ (its draws are taken per partition). ALS (implicit on DuckDB, MLlib on Spark) is
compared on a store with a known answer: both recommend every customer only its own group's unseen
products (exactly those where there are two), and Spark gives the same lists again with the same seed. Skipped, with the reason, where PySpark or Java is missing; CI has both.
"""

from __future__ import annotations

import datetime as dt
import importlib.util

import numpy as np
import pandas as pd
import pytest

from marketloop.engines.spark.session import java_available
from marketloop.store import open_store, schema
from tests.customers.conftest import synthetic_orders

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="PySpark is not installed (extra spark)"),
    pytest.mark.skipif(not java_available(), reason="no Java runtime: the Spark engine needs Java 17"),
]


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from marketloop.config import load_settings
    from marketloop.engines.spark.session import spark_session

    session = spark_session(load_settings(spark_master="local[1]", spark_shuffle_partitions=1))
    yield session
    session.stop()


def _store(path, orders, lines, products, events=()):
    st = open_store(f"duckdb:///{path}")
    with st.begin() as conn:
        conn.execute(schema.products.insert(), products)
        conn.execute(schema.orders.insert(), orders)
        conn.execute(schema.order_lines.insert(), lines)
        if events:
            conn.execute(schema.events.insert(), list(events))
    return st


@pytest.fixture(scope="module")
def both_profiles(spark, tmp_path_factory):
    from marketloop.customers.profile import AnalyzeConfig, build_profiles, load_profiles
    from marketloop.engines.profiles import analyze

    orders, lines, products = synthetic_orders(250)
    events = [
        {
            "event_id": f"e{i}",
            "customer_id": f"c{i % 7}",
            "event_type": ("view", "add_to_cart", "wishlist")[i % 3],
            "product_id": f"p{i % 24}",
            "ts": dt.datetime(2024, 3, 1) + dt.timedelta(hours=7 * i),
        }
        for i in range(300)
    ]
    st = _store(tmp_path_factory.mktemp("parity") / "shop.duckdb", orders, lines, products, events)
    config = AnalyzeConfig(n_draws=20)
    duck, duck_report = build_profiles(st, None, config)
    spark_report = analyze(st, None, config, engine="spark", force=True)
    out = load_profiles(st)
    st.close()
    key = "customer_id"
    return (
        duck.sort_values(key).reset_index(drop=True),
        out.sort_values(key).reset_index(drop=True),
        duck_report,
        spark_report,
    )


EXACT = ("customer_id", "orders", "returns", "recency_days", "days_inactive", "r_score", "f_score", "m_score")
SAME_TEXT = (
    "segment",
    "lifecycle_stage",
    "churn_band",
    "churn_model",
    "interests_json",
    "churn_reasons_json",
    "propensity_reasons_json",
    "high_value",
)
CLOSE = ("revenue", "p_alive", "expected_orders", "expected_order_value", "clv", "churn_probability", "propensity_30d")
DATES = ("first_order_at", "last_order_at", "last_active_at", "next_order_at", "next_order_low", "next_order_high")


def test_profiles_are_the_same_on_both_engines(both_profiles):
    duck, spark, duck_report, spark_report = both_profiles
    assert len(duck) == len(spark) == duck_report["customers"] == spark_report["customers"]
    for col in EXACT:
        assert duck[col].astype(str).tolist() == spark[col].astype(str).tolist(), col
    for col in SAME_TEXT:
        assert duck[col].astype(str).tolist() == spark[col].astype(str).tolist(), col
    for col in CLOSE:
        np.testing.assert_allclose(spark[col].astype(float), duck[col].astype(float), rtol=1e-6, atol=1e-9, err_msg=col)
    np.testing.assert_allclose(spark["activity_gap_days"], duck["activity_gap_days"], atol=1e-4)
    for col in DATES:
        as_us = lambda s: pd.to_datetime(s).astype("datetime64[us]")  # noqa: E731
        assert as_us(duck[col]).equals(as_us(spark[col])), col
    # the interval is simulated per partition: the same distribution, not the same draws
    for col in ("clv_low", "clv_high"):
        assert abs(spark[col].mean() - duck[col].mean()) < 0.15 * duck[col].mean() + 1.0, col
    assert (spark["clv_low"] <= spark["clv_high"]).all()


def test_reports_name_the_same_models_and_data(both_profiles):
    _, _, duck_report, spark_report = both_profiles
    assert spark_report["engine"] == "spark"
    assert spark_report["data"] == duck_report["data"]
    assert spark_report["clv"]["params"] == pytest.approx(duck_report["clv"]["params"], rel=1e-9)
    for part in ("churn", "propensity"):
        assert spark_report[part]["winner"] == duck_report[part]["winner"]
        assert spark_report[part]["validation"] == duck_report[part]["validation"]


def _block_store(path):
    """Two groups of 30 customers, each buying only its own 8 products, more often the lower-numbered
    ones: every customer's best unseen products are the unseen ones of its own group, most popular first."""
    rng = np.random.default_rng(3)
    products = [{"product_id": f"p{i:02d}", "name": f"P{i}", "is_product": True, "hidden": False} for i in range(16)]
    orders, lines, n = [], [], 0
    for u in range(60):
        block = 0 if u < 30 else 8
        for j in range(8):
            if rng.random() < 0.95 - 0.1 * j:
                n += 1
                orders.append(
                    {
                        "order_id": f"o{n}",
                        "customer_id": f"u{u:02d}",
                        "ordered_at": dt.datetime(2024, 1, 1) + dt.timedelta(hours=n),
                        "status": "completed",
                        "is_return": False,
                        "total": 10.0,
                    }
                )
                lines.append(
                    {
                        "order_id": f"o{n}",
                        "line_no": 1,
                        "product_id": f"p{block + j:02d}",
                        "quantity": 1,
                        "unit_price": 10.0,
                    }
                )
    return _store(path, orders, lines, products)


def test_als_top_lists_match_across_engines_and_runs(spark, tmp_path):
    from marketloop.engines.spark.als import train_als
    from marketloop.engines.spark.tables import export_store, register_tables
    from marketloop.recs.data import Catalog, Interactions
    from marketloop.recs.factor import ALS
    from marketloop.recs.sources import store_interactions

    st = _block_store(tmp_path / "blocks.duckdb")
    params = dict(factors=2, regularization=0.01, alpha=2.0, iterations=5, random_state=0)
    data = store_interactions(st)
    inter = Interactions.from_frame(data.frame, weight_col="rating", items=data.products["product_id"].astype(str))
    duck = ALS(**params).fit(inter, Catalog.from_frame(data.products, inter.items))
    register_tables(spark, export_store(st, tmp_path / "export"))
    products = spark.sql("SELECT product_id AS id FROM products")
    first = train_als(spark, ALS(**params), n=3, products=products)
    again = train_als(spark, ALS(**params), n=3, products=products)
    st.close()
    users = list(inter.users)
    ids_duck, _ = duck.recommend(users, 2)
    ids_spark, _ = first.model.recommend(users, 2)
    lists = first.lists.toPandas().sort_values(["customer_id", "rank"])
    assert lists.equals(again.lists.toPandas().sort_values(["customer_id", "rank"]))  # same seed, same lists
    seen = {u: set(data.frame.loc[data.frame["user"] == u, "item"]) for u in users}
    for row, user in enumerate(users):
        own = {f"p{i:02d}" for i in (range(0, 8) if user < "u30" else range(8, 16))} - seen[user]
        if len(own) < 2:
            continue
        # the known answer: a customer's best unseen products are its own group's
        assert set(ids_duck[row]) <= own, user
        assert set(ids_spark[row]) <= own, user
        if len(own) == 2:
            assert set(ids_duck[row]) == set(ids_spark[row]) == own, user
        stored = lists.loc[lists["customer_id"] == user, "product_id"].tolist()[:2]
        assert stored == list(ids_spark[row]), user


def test_uplift_scores_are_the_same_on_both_engines(spark):
    from marketloop.engines.uplift import score_uplift
    from marketloop.strategy.response import OfferResponseModel

    rng = np.random.default_rng(5)
    n = 3_000
    X = rng.normal(size=(n, 3))
    arm = rng.choice(np.array(["control", "email-0", "email-10"], dtype=object), n)
    lift = np.where(arm == "control", 0.0, 0.08 * (X[:, 0] > 0) + np.where(arm == "email-10", 0.04, 0.0))
    y = (rng.random(n) < 0.1 + lift).astype(float)
    opened = np.where(arm == "control", 0.0, (rng.random(n) < 0.3).astype(float))
    model = OfferResponseModel(random_state=0).fit(X, arm, y, opened, opened * (rng.random(n) < 0.5))
    audience = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    audience.insert(0, "customer_id", [f"c{i:03d}" for i in range(400)])
    duck = score_uplift(model, audience, ["a", "b", "c"], engine="duckdb")
    on_spark = score_uplift(model, spark.createDataFrame(audience), ["a", "b", "c"], engine="spark").toPandas()
    on_spark = on_spark.sort_values("customer_id").reset_index(drop=True)
    assert list(on_spark.columns) == list(duck.columns)
    assert on_spark["customer_id"].tolist() == duck["customer_id"].tolist()
    np.testing.assert_allclose(on_spark.drop(columns="customer_id"), duck.drop(columns="customer_id"), rtol=1e-12)
    # the model learned who responds: customers with a > 0 get the larger predicted uplift
    high = duck.loc[audience["a"] > 0, "uplift__email-0"].mean()
    assert high > duck.loc[audience["a"] <= 0, "uplift__email-0"].mean()
