"""`generate_store`: write a synthetic store as Parquet files plus its hidden truth.

Layout of ``out_dir``::

    products.parquet customers.parquet consents.parquet calendar.parquet reviews.parquet
    events/part-00000.parquet ...  orders/part-... order_lines/part-...   (one part per customer chunk)
    truth/customers.parquet truth/products.parquet                      (evaluation code only)
    manifest.json                                                        (written last)

Column names and types follow the canonical tables in :mod:`marketloop.store.schema` (without
``source``); ``customers.parquet`` has raw ``email`` / ``phone`` for ingestion to pseudonymise.
Orders, lines and events are simulated per chunk of customers and streamed to part files, so memory
stays bounded by the chunk, whatever the number of customers. Every random stream is derived from
(seed, purpose, block of 250 customers), so the same seed and arguments give identical tables
whatever the chunk size.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from marketloop.errors import InputError, NotFoundError, StoreError
from marketloop.sim.behaviour import US_PER_DAY, Counters, simulate_chunk
from marketloop.sim.calendar import Calendar, build_calendar
from marketloop.sim.catalog import Catalog, build_catalog
from marketloop.sim.population import Population, build_population, consents_table, customer_ids, customers_table
from marketloop.sim.reviews import build_reviews
from marketloop.sim.streams import BLOCK, BlockRandom
from marketloop.sim.tables import arrow_schema

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
DEFAULT_START = date(2025, 1, 1)
DEFAULT_CHUNK = 20_000
MAX_DAYS = 3660
STREAMS = {
    "catalog": 1,
    "calendar": 2,
    "population": 3,
    "customers": 4,
    "consents": 5,
    "behaviour": 100,
    "reviews": 200,
}
ENTITY_FILES = {
    "products": "products.parquet",
    "customers": "customers.parquet",
    "consents": "consents.parquet",
    "calendar": "calendar.parquet",
    "reviews": "reviews.parquet",
    "events": "events",
    "orders": "orders",
    "order_lines": "order_lines",
}
TRUTH_FILES = {"customers": "truth/customers.parquet", "products": "truth/products.parquet"}
MANIFEST = "manifest.json"
#: LZ4 writes about twice as fast as the default Snappy at the same size (DuckDB, Spark and pandas
#: read it); dictionary encoding only where values repeat (unique ids would be tried and dropped).
DICTIONARY_COLUMNS = [
    "customer_id",
    "product_id",
    "event_type",
    "query",
    "status",
    "country",
    "currency",
    "channel",
    "category",
    "brand",
    "city",
    "time_zone",
    "language",
    "first_name",
    "kind",
    "region",
    "title",
]
PARQUET_OPTIONS = {"compression": "lz4", "use_dictionary": DICTIONARY_COLUMNS}

#: progress(stage, done, total): stage is "setup", "customers" (chunks of customers simulated) or "done".
Progress = Callable[[str, int, int], None]


class SimManifest(BaseModel):
    """What a generation run wrote: arguments, rows per entity, paths (relative to ``out_dir``)."""

    model_config = ConfigDict(extra="forbid")

    version: int = GENERATOR_VERSION
    out_dir: str
    seed: int
    customers: int
    products: int
    days: int
    start: date
    end: date
    chunk_customers: int
    rows: dict[str, int]
    files: dict[str, str]
    truth_files: dict[str, str]
    seconds: float

    def path(self, entity: str) -> Path:
        return Path(self.out_dir) / self.files[entity]


@dataclass
class WorldParts:
    """Everything drawn before behaviour is simulated (cheap; also what ``SimWorld.build`` uses)."""

    start: datetime
    days: int
    catalog: Catalog
    calendar: Calendar
    population: Population
    customer_ids: pa.Array
    consents: pa.Table


def _rng(seed: int, purpose: str, part: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, STREAMS[purpose], part])


def validate_args(
    customers: int, products: int, days: int, seed: int, start: date, chunk_customers: int = DEFAULT_CHUNK
) -> None:
    checks = [
        ("customers", customers, customers >= 1, "a whole number of customers, at least 1", "Try --customers 10000."),
        ("products", products, products >= 1, "a whole number of products, at least 1", "Try --products 500."),
        ("days", days, 1 <= days <= MAX_DAYS, f"a number of days from 1 to {MAX_DAYS}", "Try --days 365."),
        ("seed", seed, seed >= 0, "a non-negative integer", "Any of 0, 1, 2, ... gives a reproducible store."),
        (
            "chunk_customers",
            chunk_customers,
            chunk_customers >= BLOCK,
            f"at least {BLOCK} customers per chunk",
            "The default (20000) suits most machines.",
        ),
    ]
    for name, value, ok, expected, hint in checks:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not ok:
            raise InputError(f"{name}: expected {expected}, got {value!r}", field=name, value=value, hint=hint)
    if not isinstance(start, date):
        raise InputError(
            f"start: expected a date (YYYY-MM-DD), got {start!r}",
            field="start",
            value=start,
            hint="Try --start 2025-01-01.",
        )


def build_parts(customers: int, products: int, days: int, seed: int, start: date = DEFAULT_START) -> WorldParts:
    validate_args(customers, products, days, seed, start)
    start_dt = datetime(start.year, start.month, start.day)
    catalog = build_catalog(products, _rng(seed, "catalog"), start_dt, days)
    calendar = build_calendar(start, days, _rng(seed, "calendar"))
    weights = np.array([c.weight for c in catalog.categories])
    cost_ratios = np.array([c.cost_ratio for c in catalog.categories])
    pop = build_population(customers, days, start_dt, weights, cost_ratios, _rng(seed, "population"))
    ids = customer_ids(customers)
    consents = consents_table(pop, ids, start_dt, days, _rng(seed, "consents"))
    return WorldParts(start_dt, days, catalog, calendar, pop, ids, consents)


def _prepare_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            f"out: {out_dir} is a file, expected a folder",
            field="out",
            value=str(out_dir),
            hint="Pick a folder path, e.g. --out ./sim-store.",
        )
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not force:
            raise InputError(
                f"out: folder {out_dir} is not empty",
                field="out",
                value=str(out_dir),
                hint="Pick a new folder, or pass --force to replace a simulated store written there before.",
            )
        for name in [*ENTITY_FILES.values(), "truth", MANIFEST]:
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    try:
        (out_dir / "truth").mkdir(parents=True, exist_ok=True)
        for folder in ("events", "orders", "order_lines"):
            (out_dir / folder).mkdir(exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"out: cannot write to {out_dir} ({exc.strerror or exc})",
            field="out",
            value=str(out_dir),
            hint="Choose a folder you can write to.",
        ) from exc


def generate_store(
    out_dir: str | os.PathLike[str],
    *,
    customers: int,
    products: int,
    days: int,
    seed: int = 0,
    start: date = DEFAULT_START,
    chunk_customers: int = DEFAULT_CHUNK,
    force: bool = False,
    progress: Progress | None = None,
) -> SimManifest:
    """Generate a store of ``customers`` customers and ``products`` products over ``days`` days."""
    validate_args(customers, products, days, seed, start, chunk_customers)
    began = time.perf_counter()
    out = Path(out_dir)
    _prepare_dir(out, force)
    report = progress or (lambda stage, done, total: None)
    report("setup", 0, customers)

    parts = build_parts(customers, products, days, seed, start)
    pop, catalog, ids = parts.population, parts.catalog, parts.customer_ids
    rows: dict[str, int] = {}
    pq.write_table(catalog.table, out / ENTITY_FILES["products"], **PARQUET_OPTIONS)
    pq.write_table(parts.calendar.table, out / ENTITY_FILES["calendar"], **PARQUET_OPTIONS)
    pq.write_table(
        customers_table(pop, ids, parts.start, _rng(seed, "customers")),
        out / ENTITY_FILES["customers"],
        **PARQUET_OPTIONS,
    )
    pq.write_table(parts.consents, out / ENTITY_FILES["consents"], **PARQUET_OPTIONS)
    pq.write_table(
        pa.Table.from_pandas(pop.truth_frame(ids, [c.slug for c in catalog.categories], days), preserve_index=False),
        out / TRUTH_FILES["customers"],
    )
    pq.write_table(pa.Table.from_pandas(catalog.truth_frame(), preserve_index=False), out / TRUTH_FILES["products"])
    rows.update(
        products=products, customers=customers, consents=parts.consents.num_rows, calendar=parts.calendar.table.num_rows
    )

    start_us = int(np.datetime64(parts.start, "us").astype(np.int64))
    end_us = start_us + days * US_PER_DAY
    # Bound the per-chunk work: sessions scale with customers x days.
    # Chunks hold whole random blocks, so the store does not depend on the chunk size.
    chunk = max(BLOCK, min(chunk_customers, int(20_000 * 365 / max(days, 365))) // BLOCK * BLOCK)
    counters = Counters()
    rows.update(events=0, orders=0, order_lines=0, reviews=0)
    review_writer = pq.ParquetWriter(out / ENTITY_FILES["reviews"], arrow_schema("reviews"), **PARQUET_OPTIONS)

    def write_part(name: str, tables: dict[str, pa.Table]) -> None:
        for entity, table in tables.items():
            if entity == "reviews":
                review_writer.write_table(table)
            else:
                pq.write_table(table, out / entity / name, **PARQUET_OPTIONS)

    # One writer thread overlaps Parquet encoding (which releases the GIL) with simulating the next
    # chunk; waiting for the previous write first keeps at most two chunks in memory.
    pending: Future[None] | None = None
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-writer") as pool:
            for part, lo in enumerate(range(0, customers, chunk)):
                hi = min(customers, lo + chunk)
                blocks = (lo // BLOCK, -(-hi // BLOCK) - lo // BLOCK)
                draws = BlockRandom(seed, STREAMS["behaviour"], *blocks)
                result = simulate_chunk(pop, lo, hi, ids, catalog, parts.calendar, start_us, draws, counters)
                reviews = build_reviews(
                    catalog,
                    pop,
                    ids,
                    result.line_product,
                    result.line_customer,
                    result.line_ts,
                    result.line_returned,
                    end_us,
                    rows["reviews"],
                    BlockRandom(seed, STREAMS["reviews"], *blocks),
                )
                tables = {
                    "events": result.events,
                    "orders": result.orders,
                    "order_lines": result.order_lines,
                    "reviews": reviews,
                }
                for entity, table in tables.items():
                    rows[entity] += table.num_rows
                del result, reviews
                if pending is not None:
                    pending.result()
                pending = pool.submit(write_part, f"part-{part:05d}.parquet", tables)
                del tables
                report("customers", hi, customers)
            if pending is not None:
                pending.result()
    finally:
        review_writer.close()

    manifest = SimManifest(
        out_dir=str(out),
        seed=seed,
        customers=customers,
        products=products,
        days=days,
        start=start,
        end=start + timedelta(days=days),
        chunk_customers=chunk,
        rows=rows,
        files=dict(ENTITY_FILES),
        truth_files=dict(TRUTH_FILES),
        seconds=round(time.perf_counter() - began, 3),
    )
    (out / MANIFEST).write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n")
    log.info("generated %s events for %s customers in %.1f s", rows["events"], customers, manifest.seconds)
    report("done", customers, customers)
    return manifest


def read_manifest(out_dir: str | os.PathLike[str]) -> SimManifest:
    """The manifest of a complete store in ``out_dir`` (NotFoundError when there is none)."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise NotFoundError(
            f"{out_dir} holds no complete simulated store (no {MANIFEST})",
            hint="Generate one with `marketloop sim generate --out DIR`; an interrupted run leaves no manifest.",
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"{path} is not a readable simulator manifest ({exc})", hint="Generate the store again with --force."
        ) from exc
    if data.get("version") != GENERATOR_VERSION:
        raise StoreError(
            f"{path} was written by simulator version {data.get('version')!r}; this MarketLoop reads version {GENERATOR_VERSION}",
            hint="Generate the store again with this version (marketloop sim generate --force).",
        )
    data["out_dir"] = str(Path(out_dir))
    return SimManifest.model_validate(data)
