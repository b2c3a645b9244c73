"""The customer profile ("customer 360"): one row per customer joining every customer model.

:func:`build_profiles` computes the profiles from the store's orders (plus lines, products and
events for interests); :func:`refresh_profiles` also replaces the ``customer_profiles`` table in one
transaction, so readers see either the old or the new profiles, never a mix.
:func:`load_profiles` and :func:`get_profile` are the reading API other components use.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.customers.churn import DEFAULT_BANDS, risk_bands
from marketloop.customers.clv import CLVModel
from marketloop.customers.frames import read_frame
from marketloop.store.bulk import insert_frame
from marketloop.customers.features import History
from marketloop.customers.horizon import score_horizon
from marketloop.customers.interests import interest_tags
from marketloop.customers.rfm import RFMConfig, rfm_table
from marketloop.customers.transactions import check_transactions, rfm_summary, transactions_from_store
from marketloop.errors import InputError, NotFoundError
from marketloop.store import schema

log = logging.getLogger(__name__)

PROFILE_COLUMNS = tuple(c.name for c in schema.customer_profiles.columns)


@dataclass
class AnalyzeConfig:
    """Settings of a profile refresh (the `marketloop analyze` options)."""

    churn_horizon_days: int = 90
    clv_horizon_days: int = 365
    propensity_days: int = 30
    model: str = "bgnbd"
    method: str = "map"
    priors: str = "flat"
    time_unit_days: float = 7.0
    high_value_share: float = 0.10
    bands: tuple[float, float, float] = DEFAULT_BANDS
    half_life_days: float = 90.0
    min_history_days: int = 28
    n_draws: int = 50
    rfm: RFMConfig = field(default_factory=RFMConfig)
    random_state: int | None = 0

    def make_clv(self) -> CLVModel:
        return CLVModel(model=self.model, method=self.method, priors=self.priors,
                        time_unit_days=self.time_unit_days, n_draws=self.n_draws, random_state=self.random_state)


def _noop(step: str) -> None:
    return None


def default_as_of(store) -> dt.date:  # noqa: ANN001 - Store
    """The day of the store's last order (profiles describe the data, not the wall clock)."""
    last = store.scalar(sa.select(sa.func.max(schema.orders.c.ordered_at)))
    if last is None:
        raise InputError("the store has no orders", field="orders", value=0,
                         hint="Load orders first: marketloop ingest / marketloop import.")
    return pd.Timestamp(last).date()


STEPS = ("read orders", "RFM segments", "lifetime value", "churn risk", "30-day propensity",
         "next order dates", "interest tags", "write profiles")


def build_profiles(
    store,  # noqa: ANN001 - Store
    as_of: dt.date | None = None,
    config: AnalyzeConfig | None = None,
    progress: Callable[[str], None] = _noop,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Compute the profile frame (columns of ``customer_profiles``) and a report of what was done."""
    config = config or AnalyzeConfig()
    if not 0 < config.high_value_share < 1:
        raise InputError(f"high_value_share must be between 0 and 1, got {config.high_value_share!r}",
                         field="high_value_share", value=config.high_value_share)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now
        progress(name)

    as_of = as_of or default_as_of(store)
    tx = transactions_from_store(store, as_of)
    data = check_transactions(tx, min_history_days=config.min_history_days, today=max(as_of, dt.datetime.now(dt.UTC).date()))
    step("read orders")

    rfm = rfm_table(tx, as_of, config.rfm).set_index("customer_id")
    step("RFM segments")

    summary = rfm_summary(tx, as_of, config.time_unit_days)
    clv = config.make_clv().fit(summary)
    value = clv.predict(summary, config.clv_horizon_days).set_index("customer_id")
    step("lifetime value")

    history = History.of(tx)
    churn = score_horizon(history, as_of, config.churn_horizon_days, clv, summary, event="churn",
                          make_clv=config.make_clv, random_state=config.random_state)
    step("churn risk")
    propensity = score_horizon(history, as_of, config.propensity_days, clv, summary, event="purchase",
                               make_clv=config.make_clv, random_state=config.random_state)
    step("30-day propensity")

    waits = clv.next_purchase_days(summary, (0.25, 0.5, 0.75))
    step("next order dates")
    interests = interest_tags(store, as_of, config.half_life_days)
    step("interest tags")

    ids = rfm.index
    frame = pd.DataFrame(index=ids)
    frame["as_of"] = as_of
    for column in ("first_order_at", "last_order_at", "orders", "returns", "revenue", "recency_days",
                   "r_score", "f_score", "m_score", "segment"):
        frame[column] = rfm[column]
    for column in ("p_alive", "expected_orders", "expected_order_value", "clv", "clv_low", "clv_high"):
        frame[column] = value[column].reindex(ids)
    frame["churn_probability"] = churn.probability.reindex(ids).to_numpy()
    frame["churn_band"] = risk_bands(frame["churn_probability"].fillna(1.0).to_numpy(), config.bands)
    frame["churn_model"] = churn.selection.winner
    wait = pd.DataFrame(waits, index=summary["customer_id"].astype(str).to_numpy(), columns=["low", "mid", "high"]).reindex(ids)
    base = pd.Timestamp(as_of)
    for column, source in (("next_order_at", "mid"), ("next_order_low", "low"), ("next_order_high", "high")):
        days = wait[source]
        frame[column] = [None if np.isnan(d) else (base + pd.Timedelta(days=int(d))).date() for d in days]
    frame["propensity_30d"] = propensity.probability.reindex(ids).to_numpy()
    cut = float(np.nanquantile(frame["clv"], 1 - config.high_value_share)) if len(frame) else np.inf
    frame["high_value"] = (frame["clv"] >= cut) & (frame["clv"] > 0)
    frame["interests_json"] = interests.reindex(ids).fillna("{}").to_numpy() if len(interests) else "{}"
    frame["churn_reasons_json"] = churn.reasons.reindex(ids).fillna("[]").to_numpy()
    frame["propensity_reasons_json"] = propensity.reasons.reindex(ids).fillna("[]").to_numpy()
    frame["computed_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frame = frame.reset_index(names="customer_id")[list(PROFILE_COLUMNS)]

    report: dict[str, object] = {
        "as_of": str(as_of),
        "data": data.as_dict(),
        "customers": len(frame),
        "clv": {"model": clv.model, "method": clv.method, "params": clv.params_, "spend_params": clv.spend_params_,
                "fit_seconds": round(clv.fit_seconds_, 2), "horizon_days": config.clv_horizon_days,
                "high_value_cut": round(cut, 2)},
        "churn": churn.selection.as_dict(),
        "propensity": propensity.selection.as_dict(),
        "timings_s": timings,
    }
    return frame, report


def write_profiles(store, frame: pd.DataFrame) -> None:  # noqa: ANN001 - Store
    """Replace the profile table with ``frame`` in one transaction."""
    with store.begin() as conn:
        conn.execute(schema.customer_profiles.delete())
        insert_frame(conn, schema.customer_profiles, frame)


def refresh_profiles(store, as_of: dt.date | None = None, config: AnalyzeConfig | None = None,  # noqa: ANN001
                     progress: Callable[[str], None] = _noop) -> dict[str, object]:
    """Build and store the profiles; return the build report (with the write time)."""
    frame, report = build_profiles(store, as_of, config, progress)
    started = time.perf_counter()
    write_profiles(store, frame)
    report["timings_s"]["write profiles"] = round(time.perf_counter() - started, 2)  # type: ignore[index]
    progress("write profiles")
    return report


def load_profiles(store, columns: list[str] | None = None) -> pd.DataFrame:  # noqa: ANN001 - Store
    """Every stored profile (empty frame when `marketloop analyze` has not run yet)."""
    table = schema.customer_profiles
    cols = [table.c[name] for name in (columns or PROFILE_COLUMNS)]
    return read_frame(store, sa.select(*cols).order_by(table.c.customer_id))


def get_profile(store, customer_id: str) -> dict[str, object]:  # noqa: ANN001 - Store
    """One customer's profile as a dict; NotFoundError naming the id when there is none."""
    table = schema.customer_profiles
    frame = store.read_sql(sa.select(table).where(table.c.customer_id == str(customer_id)))
    if frame.empty:
        known = store.scalar(sa.select(sa.func.count()).select_from(table))
        hint = "Run `marketloop analyze` first." if not known else "Check the id with `marketloop segments` or the customers table."
        raise NotFoundError(f"No profile for customer {customer_id!r}", hint=hint)
    return frame.iloc[0].to_dict()
