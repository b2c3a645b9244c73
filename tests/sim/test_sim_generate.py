"""The generated store: canonical schema, invariants, determinism, no leaked truth, bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from marketloop.errors import InputError, NotFoundError
from marketloop.sim import SimWorld, generate_store, read_manifest
from marketloop.sim.tables import arrow_type
from marketloop.store import schema

from .conftest import SMALL

ENTITIES = ["products", "customers", "consents", "calendar", "reviews", "events", "orders", "order_lines"]


def read(store: Path, entity: str) -> pd.DataFrame:
    return pq.read_table(store / read_manifest(store).files[entity]).to_pandas()


@pytest.mark.parametrize("entity", ENTITIES)
def test_columns_and_types_match_the_canonical_schema(store_dir: Path, entity: str) -> None:
    arrow = pq.read_schema(
        next(iter(sorted((store_dir / entity).glob("*.parquet"))))
        if (store_dir / entity).is_dir()
        else store_dir / f"{entity}.parquet"
    )
    expected = []
    for column in schema.metadata.tables[entity].columns:
        if column.name == "source":
            continue
        name = (
            {"email_hash": "email", "phone_hash": "phone"}.get(column.name, column.name)
            if entity == "customers"
            else column.name
        )
        expected.append((name, arrow_type(column)))
    assert [(f.name, f.type) for f in arrow] == expected


def test_canonical_types_are_the_documented_ones() -> None:
    events = {c.name: arrow_type(c) for c in schema.events.columns}
    assert events["ts"] == pa.timestamp("us") and events["event_id"] == pa.string() and events["value"] == pa.float64()
    assert arrow_type(schema.order_lines.c.quantity) == pa.int32()


def test_manifest_counts_rows_and_lists_files(store_dir: Path) -> None:
    manifest = read_manifest(store_dir)
    assert manifest.customers == SMALL["customers"] and manifest.days == SMALL["days"]
    for entity in ENTITIES:
        assert len(read(store_dir, entity)) == manifest.rows[entity], entity
    assert json.loads((store_dir / "manifest.json").read_text())["rows"]["events"] > 10_000
    assert len(list((store_dir / "events").glob("part-*.parquet"))) == 3  # 3,000 customers in chunks of 1,000


def test_orders_total_the_sum_of_their_lines(store_dir: Path) -> None:
    orders = read(store_dir, "orders").set_index("order_id")
    lines = read(store_dir, "order_lines")
    amount = (lines["quantity"] * lines["unit_price"] - lines["discount"]).groupby(lines["order_id"]).sum()
    assert set(amount.index) == set(orders.index)
    np.testing.assert_allclose(orders.loc[amount.index, "total"], amount, atol=1e-6)
    assert set(orders["status"]) == {"completed", "returned"}
    returns = orders[orders["is_return"]]
    assert 0 < len(returns) < 0.1 * len(orders)
    assert (returns["status"] == "returned").all() and (returns["total"] < 0).all()
    assert (lines[lines["order_id"].isin(returns.index)]["quantity"] < 0).all()
    assert (lines[~lines["order_id"].isin(returns.index)]["quantity"] > 0).all()
    assert (lines["line_no"] >= 1).all() and not lines.duplicated(["order_id", "line_no"]).any()


def test_purchase_events_are_the_order_lines(store_dir: Path) -> None:
    events = read(store_dir, "events")
    orders = read(store_dir, "orders")
    lines = read(store_dir, "order_lines")
    sales = orders[~orders["is_return"]]
    bought = lines.merge(sales[["order_id", "customer_id", "ordered_at"]], on="order_id")
    purchases = events[events["event_type"] == "purchase"]
    key = ["customer_id", "ordered_at", "product_id"]
    left = bought.assign(value=bought["quantity"] * bought["unit_price"] - bought["discount"])[key + ["value"]]
    right = purchases.rename(columns={"ts": "ordered_at"})[key + ["value"]]
    pd.testing.assert_frame_equal(
        left.sort_values(key + ["value"]).reset_index(drop=True),
        right.sort_values(key + ["value"]).reset_index(drop=True),
        check_exact=False,
    )
    checkouts = events[events["event_type"] == "checkout"]
    assert len(checkouts) == len(sales)


def test_ids_are_unique_and_references_resolve(store_dir: Path) -> None:
    events = read(store_dir, "events")
    customers = read(store_dir, "customers")
    products = read(store_dir, "products")
    assert events["event_id"].is_unique and customers["customer_id"].is_unique and products["product_id"].is_unique
    assert set(events["customer_id"]) <= set(customers["customer_id"])
    assert set(events["product_id"].dropna()) <= set(products["product_id"])
    assert set(read(store_dir, "order_lines")["product_id"]) <= set(products["product_id"])
    assert set(read(store_dir, "reviews")["customer_id"]) <= set(customers["customer_id"])
    consents = read(store_dir, "consents")
    assert not consents.duplicated(["customer_id", "channel"]).any()
    assert set(events["event_type"]) <= set(schema.EVENT_TYPES)
    assert events.loc[events["event_type"] == "search", "query"].notna().all()
    assert events.loc[events["event_type"] != "search", "query"].isna().all()


def test_timestamps_lie_inside_the_window(store_dir: Path) -> None:
    manifest = read_manifest(store_dir)
    lo, hi = datetime(2025, 1, 1), datetime.combine(manifest.end, datetime.min.time())
    for entity, col in (("events", "ts"), ("orders", "ordered_at"), ("reviews", "created_at")):
        ts = read(store_dir, entity)[col]
        assert ts.min() >= lo and ts.max() < hi, entity
    customers = read(store_dir, "customers").set_index("customer_id")
    first_event = read(store_dir, "events").groupby("customer_id")["ts"].min()
    assert (first_event >= customers.loc[first_event.index, "signup_at"]).all()


def test_products_appear_only_after_their_launch(store_dir: Path) -> None:
    products = read(store_dir, "products").set_index("product_id")
    events = read(store_dir, "events").dropna(subset=["product_id"])
    created = products.loc[events["product_id"], "created_at"].to_numpy()
    assert (events["ts"].to_numpy() >= created).all()
    launched = products[products["created_at"] >= datetime(2025, 1, 1)]
    assert 0.02 < len(launched) / len(products) < 0.1
    assert events["product_id"].isin(launched.index).any()  # new products do get traffic


def test_store_looks_like_a_store(store_dir: Path) -> None:
    products = read(store_dir, "products")
    assert products["category"].nunique() == 12 and products["brand"].nunique() > 10
    assert (products["cost"] < products["price"]).all() and (products["stock"] == 0).mean() > 0.02
    assert products["name"].str.split().str.len().min() >= 3 and products["description"].str.len().min() > 40
    customers = read(store_dir, "customers")
    assert customers["email"].str.fullmatch(r"[a-z]+\.\d+@[a-z.]*example\.(com|org|net)").all()
    assert customers["phone"].isna().mean() > 0.2 and not customers["is_guest"].any()
    assert customers["time_zone"].str.contains("/").all()
    consents = read(store_dir, "consents")
    share = consents[consents["status"] == "granted"].groupby("channel").size() / len(customers)
    assert share["email"] > 0.7 and share["sms"] < share["email"] and share["push"] < share["email"]
    assert (consents["status"] == "revoked").any()
    calendar = read(store_dir, "calendar")
    assert {"holiday", "promotion", "season"} <= set(calendar["kind"])
    assert calendar.loc[calendar["kind"] == "promotion", "discount"].between(0.05, 0.5).all()
    reviews = read(store_dir, "reviews")
    assert set(reviews["rating"]) == {1, 2, 3, 4, 5} and reviews["body"].nunique() > 0.5 * len(reviews)
    events = read(store_dir, "events")
    funnel = events["event_type"].value_counts()
    assert funnel["view"] > funnel["add_to_cart"] > funnel["checkout"] > 0
    weekday = events[events["event_type"] == "view"]["ts"].dt.day_of_week.value_counts(normalize=True)
    assert weekday[6] > weekday[4]  # Sunday busier than Friday


def test_reviews_follow_satisfaction(store_dir: Path, world: SimWorld) -> None:
    reviews = read(store_dir, "reviews")
    quality = pd.read_parquet(store_dir / "truth" / "products.parquet").set_index("product_id")["quality"]
    by_rating = quality.loc[reviews["product_id"]].groupby(reviews["rating"].to_numpy()).mean()
    assert by_rating[5] > by_rating[1] + 0.3
    neg = reviews[reviews["rating"] <= 2]["body"].str.lower()
    assert neg.str.contains("disappoint|cheap|damaged|off|slow|expected|wear|exaggerated|not suitable").mean() > 0.6


def test_no_truth_columns_in_store_files(store_dir: Path) -> None:
    truth = set(pd.read_parquet(store_dir / "truth" / "customers.parquet").columns) - {"customer_id"}
    truth |= {"quality", "popularity", "response_type", "lifecycle_stage", "uplift"}
    for entity in ENTITIES:
        assert not truth & set(read(store_dir, entity).columns), entity


def test_same_seed_same_store_other_seed_other_store(tmp_path: Path) -> None:
    args = {"customers": 400, "products": 60, "days": 60}
    generate_store(tmp_path / "a", seed=3, **args)
    generate_store(tmp_path / "b", seed=3, **args)
    generate_store(tmp_path / "c", seed=4, **args)
    for entity in ENTITIES:
        a = pq.read_table(tmp_path / "a" / read_manifest(tmp_path / "a").files[entity])
        assert a.equals(pq.read_table(tmp_path / "b" / read_manifest(tmp_path / "b").files[entity])), entity
    assert not pq.read_table(tmp_path / "a" / "events").equals(pq.read_table(tmp_path / "c" / "events"))
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "a" / "truth" / "customers.parquet"),
        pd.read_parquet(tmp_path / "b" / "truth" / "customers.parquet"),
    )


def test_chunk_size_changes_files_not_the_store(tmp_path: Path) -> None:
    args = {"customers": 1_100, "products": 80, "days": 45, "seed": 5}
    generate_store(tmp_path / "a", chunk_customers=250, **args)
    generate_store(tmp_path / "b", chunk_customers=1_000, **args)
    assert len(list((tmp_path / "a" / "events").glob("*.parquet"))) == 5
    assert len(list((tmp_path / "b" / "events").glob("*.parquet"))) == 2
    for entity in ENTITIES:
        a = pq.read_table(tmp_path / "a" / read_manifest(tmp_path / "a").files[entity])
        b = pq.read_table(tmp_path / "b" / read_manifest(tmp_path / "b").files[entity])
        assert a.combine_chunks().equals(b.combine_chunks()), entity


def test_build_gives_the_same_truth_as_generate(store_dir: Path, world: SimWorld) -> None:
    built = SimWorld.build(**SMALL)
    pd.testing.assert_frame_equal(built.truth, world.truth, check_exact=False)


def _chunk_peak_bytes(tmp: Path, customers: int, chunk: int) -> int:
    """Largest numpy allocation peak while one chunk is simulated, above what was held before it."""
    peaks: list[int] = []
    before = [0]

    def progress(stage: str, done: int, total: int) -> None:
        current, peak = tracemalloc.get_traced_memory()
        if stage == "customers":
            peaks.append(peak - before[0])
        tracemalloc.reset_peak()
        before[0] = tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        generate_store(
            tmp,
            customers=customers,
            products=100,
            days=90,
            seed=1,
            chunk_customers=chunk,
            force=True,
            progress=progress,
        )
    finally:
        tracemalloc.stop()
    return max(peaks[1:] or peaks)  # the first chunk also pays for the setup


def test_generation_memory_is_bounded_by_the_chunk(tmp_path: Path) -> None:
    few = _chunk_peak_bytes(tmp_path / "s", 1_500, 500)
    many = _chunk_peak_bytes(tmp_path / "m", 6_000, 500)
    big_chunks = _chunk_peak_bytes(tmp_path / "o", 6_000, 2_000)
    assert len(list((tmp_path / "m" / "events").glob("*.parquet"))) == 12
    assert many < 1.5 * few  # 4x the customers, the same chunk: the same peak
    assert big_chunks > 2.5 * many, (few, many, big_chunks)  # 4x the chunk: about 4x the peak


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "customers: expected a whole number of customers, at least 1, got 0"),
        ({"customers": -5}, "customers: expected a whole number of customers, at least 1, got -5"),
        ({"products": 0}, "products: expected a whole number of products, at least 1, got 0"),
        ({"days": 0}, "days: expected a number of days from 1 to 3660, got 0"),
        ({"days": 5000}, "days: expected a number of days from 1 to 3660, got 5000"),
        ({"seed": -1}, "seed: expected a non-negative integer, got -1"),
        ({"customers": 1.5}, "customers: expected a whole number of customers, at least 1, got 1.5"),
        ({"chunk_customers": 10}, "chunk_customers: expected at least 250 customers per chunk, got 10"),
        ({"start": "2025-01-01"}, "start: expected a date (YYYY-MM-DD), got '2025-01-01'"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"customers": 10, "products": 5, "days": 5, "seed": 0} | kwargs
    with pytest.raises(InputError) as err:
        generate_store(tmp_path / "out", **args)
    assert err.value.message == message
    assert err.value.hint
    assert not (tmp_path / "out").exists()


def test_output_folder_rules(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file, expected a folder"):
        generate_store(tmp_path / "file", customers=10, products=5, days=5)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="is not empty"):
        generate_store(busy, customers=10, products=5, days=5)
    generate_store(busy, customers=10, products=5, days=5, force=True)
    generate_store(busy, customers=20, products=5, days=5, force=True)
    assert (busy / "notes.txt").read_text() == "keep me"  # --force replaces only the simulator's files
    assert read_manifest(busy).customers == 20


def test_unwritable_folder_is_an_input_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if _can_write(locked):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(InputError, match="cannot write to"):
            generate_store(locked / "store", customers=10, products=5, days=5)
    finally:
        locked.chmod(0o700)


def test_folder_under_a_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(InputError, match="cannot write to .*plain.txt/store"):
        generate_store(tmp_path / "plain.txt" / "store", customers=10, products=5, days=5)


def _can_write(folder: Path) -> bool:
    try:
        (folder / ".probe").write_text("")
        (folder / ".probe").unlink()
        return True
    except OSError:
        return False


def test_loading_an_incomplete_store_says_so(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no complete simulated store"):
        SimWorld.load(tmp_path)


def test_start_date_shifts_the_window(tmp_path: Path) -> None:
    generate_store(tmp_path, customers=200, products=20, days=30, start=date(2024, 11, 15))
    events = pq.read_table(tmp_path / "events").to_pandas()
    assert events["ts"].min() >= datetime(2024, 11, 15) and events["ts"].max() < datetime(2024, 12, 15)
    calendar = pq.read_table(tmp_path / "calendar.parquet").to_pandas()
    assert "Black Friday" in set(calendar["name"])


def test_product_draws_follow_popularity_and_price_sensitivity() -> None:
    from marketloop.sim.catalog import build_catalog

    catalog = build_catalog(600, np.random.default_rng(1), datetime(2025, 1, 1))
    rng = np.random.default_rng(0)
    n = 400_000
    category = rng.integers(0, catalog.n_categories, n)
    neutral = catalog.sample(category, np.zeros(n, bool), rng.random(n), rng.random(n))
    cheap = catalog.sample(category, np.ones(n, bool), rng.random(n), rng.random(n))
    assert (catalog.category[neutral] == category).all() and (catalog.category[cheap] == category).all()
    share = (
        np.bincount(neutral, minlength=600) / np.bincount(category, minlength=catalog.n_categories)[catalog.category]
    )
    assert np.abs(share - catalog.popularity).max() < 0.01
    assert catalog.price[cheap].mean() < 0.8 * catalog.price[neutral].mean()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not a readable simulator manifest"),
        ('{"version": 99}', "was written by simulator version 99; this MarketLoop reads version 1"),
    ],
)
def test_a_foreign_or_broken_manifest_is_refused(tmp_path: Path, content: str, message: str) -> None:
    from marketloop.errors import StoreError

    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(StoreError, match=message):
        SimWorld.load(tmp_path)
