"""`SimWorld`: the simulated customers' hidden truth, for evaluation code only.

Models must learn from the store tables; evaluation code loads the world next to them and asks it
how customers respond to a message (:meth:`SimWorld.respond`) or what a message would change in
expectation (:meth:`SimWorld.true_uplift`, the oracle).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from marketloop.errors import InputError, NotFoundError
from marketloop.sim import text
from marketloop.sim.calendar import Calendar, calendar_from_rows
from marketloop.sim.generate import DEFAULT_START, TRUTH_FILES, build_parts, read_manifest
from marketloop.sim.population import MESSAGE_CHANNELS, Population
from marketloop.sim.response import Context, Message, draw, expected

ORACLE_COLUMNS = (
    "delivered",
    "p_open",
    "p_click",
    "p_visit_untreated",
    "p_visit_treated",
    "p_purchase_untreated",
    "p_purchase_treated",
    "uplift",
    "p_unsubscribe",
    "expected_revenue_untreated",
    "expected_revenue_treated",
    "expected_incremental_revenue",
    "send_cost",
    "expected_incremental_profit",
)


class SimWorld:
    """Ground truth of a simulated store; build with :meth:`load` or :meth:`build`."""

    def __init__(
        self,
        *,
        population: Population,
        customer_ids: np.ndarray,
        product_ids: np.ndarray,
        product_category: np.ndarray,
        category_slugs: list[str],
        calendar: Calendar,
        consent: np.ndarray,
        start: datetime,
        truth: pd.DataFrame,
    ) -> None:
        self.population = population
        self.customer_ids = customer_ids
        self.category_slugs = category_slugs
        self.calendar = calendar
        self.consent = consent
        self.start = start
        self._truth = truth
        self._customer_set = pa.array(customer_ids, type=pa.string())
        self._product_ids = np.asarray(product_ids, dtype=object)
        self._product_set = pa.array(self._product_ids, type=pa.string())
        self._product_category = product_category

    # ----------------------------------------------------------------------------------- building
    @classmethod
    def load(cls, out_dir: str | os.PathLike[str]) -> SimWorld:
        """Load the truth written by :func:`~marketloop.sim.generate.generate_store`."""
        manifest = read_manifest(out_dir)
        root = Path(out_dir)
        truth_table = pq.read_table(root / TRUTH_FILES["customers"])
        truth = truth_table.to_pandas()
        products = pq.read_table(root / TRUTH_FILES["products"]).to_pandas()
        consents = pq.read_table(root / manifest.files["consents"])
        calendar_rows = pq.read_table(root / manifest.files["calendar"]).to_pandas()
        slugs = [c[len("affinity_") :] for c in truth.columns if c.startswith("affinity_")]
        names = {c.slug: c.name for c in text.CATEGORIES}
        cat_index = {names[s]: i for i, s in enumerate(slugs)}
        start = datetime(manifest.start.year, manifest.start.month, manifest.start.day)
        ids = truth_table.column("customer_id").to_numpy()
        return cls(
            population=Population.from_truth(truth_table, slugs),
            customer_ids=ids,
            product_ids=products["product_id"].to_numpy(),
            product_category=products["category"].map(cat_index).to_numpy(),
            category_slugs=slugs,
            calendar=calendar_from_rows(manifest.start, manifest.days, calendar_rows),
            consent=_consent_matrix(ids, consents),
            start=start,
            truth=truth,
        )

    @classmethod
    def build(cls, *, customers: int, products: int, days: int, seed: int = 0, start: date = DEFAULT_START) -> SimWorld:
        """The same world ``generate_store`` would write for these arguments, in memory and without
        simulating the history (fast: for evaluating policies on many customers)."""
        parts = build_parts(customers, products, days, seed, start)
        slugs = [c.slug for c in parts.catalog.categories]
        ids = parts.customer_ids.to_numpy(zero_copy_only=False)
        truth = parts.population.truth_frame(parts.customer_ids, slugs, days)
        return cls(
            population=parts.population,
            customer_ids=ids,
            product_ids=parts.catalog.product_ids.to_numpy(zero_copy_only=False),
            product_category=parts.catalog.category.astype(np.int64),
            category_slugs=slugs,
            calendar=parts.calendar,
            consent=_consent_matrix(ids, parts.consents),
            start=parts.start,
            truth=truth,
        )

    # ------------------------------------------------------------------------------------ reading
    @property
    def truth(self) -> pd.DataFrame:
        """One row per customer with every hidden trait (a copy)."""
        return self._truth.copy()

    @property
    def now(self) -> datetime:
        """End of the generated window: the default time messages are sent (9:00 UTC that day)."""
        return self.start + timedelta(days=self.calendar.days)

    @property
    def product_ids(self) -> np.ndarray:
        return self._product_ids

    def products_in(self, category_slug: str) -> np.ndarray:
        """Ids of the products of a category (by slug, e.g. ``"shoes"``)."""
        if category_slug not in self.category_slugs:
            raise InputError(
                f"category: expected one of {', '.join(self.category_slugs)}, got {category_slug!r}",
                field="category",
                value=category_slug,
                hint="Categories are named by their slug.",
            )
        return self.product_ids[self._product_category == self.category_slugs.index(category_slug)]

    def positions(self, customer_ids: Iterable[str]) -> np.ndarray:
        ids = np.asarray(
            list(customer_ids) if not isinstance(customer_ids, (np.ndarray, pd.Series, pd.Index)) else customer_ids,
            dtype=object,
        )
        pos = _index_in(ids, self._customer_set)
        if (pos < 0).any():
            missing = ids[pos < 0]
            raise NotFoundError(
                f"{len(missing)} customer id(s) are not in this simulated store, e.g. {', '.join(map(str, missing[:3]))}",
                hint="Use ids from the store's customers table (SimWorld.customer_ids).",
            )
        return pos

    def _context(self, message: Message) -> Context:
        pos = _index_in(np.asarray(message.product_ids, dtype=object), self._product_set)
        if (pos < 0).any():
            bad = [p for p, i in zip(message.product_ids, pos, strict=True) if i < 0]
            raise InputError(
                f"product_ids: {len(bad)} product(s) not in the catalogue, e.g. {', '.join(bad[:3])}",
                field="product_ids",
                value=bad[:3],
                hint="Show products from the store's products table.",
            )
        if message.send_at is not None and message.send_at < self.start:
            raise InputError(
                f"send_at: expected a time after the store's start ({self.start:%Y-%m-%d}), got {message.send_at}",
                field="send_at",
                value=message.send_at,
                hint="Leave send_at empty to send right after the generated window.",
            )
        return Context(
            calendar=self.calendar, start=self.start, consent=self.consent, product_category=self._product_category[pos]
        )

    # ------------------------------------------------------------------------------ the response
    def true_uplift(self, customer_ids: Iterable[str], message: Message) -> pd.DataFrame:
        """Exact expected outcomes with and without ``message`` (the oracle), one row per customer."""
        pos = self.positions(customer_ids)
        e = expected(self.population, pos, message, self._context(message))
        frame = pd.DataFrame({"customer_id": self.customer_ids[pos]})
        for col in ORACLE_COLUMNS:
            frame[col] = e[col]
        return frame

    def respond(self, customer_ids: Iterable[str], message: Message | None, *, seed: int = 0) -> pd.DataFrame:
        """Sampled outcomes over the message's window; ``message=None`` = not contacted (control).

        Draws are keyed by (seed, customer), so the same seed gives the same customer the same luck
        treated and untreated (coupled potential outcomes) and in any subset of customers.
        """
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise InputError(
                f"seed: expected a non-negative integer, got {seed!r}",
                field="seed",
                value=seed,
                hint="Use 0, 1, 2, ...",
            )
        pos = self.positions(customer_ids)
        ctx = self._context(message or Message())
        out = draw(self.population, pos, message, ctx, int(seed))
        frame = pd.DataFrame({"customer_id": self.customer_ids[pos]})
        for col, values in out.items():
            frame[col] = values
        return frame


def _index_in(values: np.ndarray, value_set: pa.Array) -> np.ndarray:
    """Position of each value in ``value_set`` (-1 when absent), hashed in Arrow's C++ kernels."""
    found = pc.index_in(pa.array(values, type=pa.string(), from_pandas=True), value_set=value_set)
    return found.fill_null(-1).to_numpy().astype(np.int64)


def _consent_matrix(customer_ids: np.ndarray, consents: pa.Table) -> np.ndarray:
    """customers x (email, sms, push): True where the latest consent is granted."""
    matrix = np.zeros((len(customer_ids), len(MESSAGE_CHANNELS)), dtype=bool)
    granted = consents.filter(pc.equal(consents.column("status"), "granted"))
    rows = _index_in(
        granted.column("customer_id").to_numpy(zero_copy_only=False), pa.array(customer_ids, type=pa.string())
    )
    channel = pc.index_in(granted.column("channel"), value_set=pa.array(MESSAGE_CHANNELS)).fill_null(-1).to_numpy()
    ok = (rows >= 0) & (channel >= 0)
    matrix[rows[ok], channel[ok]] = True
    return matrix
