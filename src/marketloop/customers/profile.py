"""The customer profile ("customer 360"): one row per customer joining every customer model.

:func:`build_profiles` computes the profiles from the store's orders (plus lines, products and
events for interests); :func:`refresh_profiles` also replaces the ``customer_profiles`` table in one
transaction, so readers see either the old or the new profiles, never a mix, and records the refresh in
``profile_refreshes``. A refresh whose inputs have not changed since the last one (same day, same settings,
same orders, lines, events, products and customers, by :func:`inputs_fingerprint`) is skipped: every
score depends on the as-of day and on models fitted over all customers, so when anything changed the
whole table is recomputed.
:func:`load_profiles` and :func:`get_profile` are the reading API other components use.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.customers.churn import BAND_NAMES, BAND_SHARES, Selection, quantile_thresholds, risk_bands
from marketloop.customers.clv import CLVModel
from marketloop.customers.features import History
from marketloop.customers.frames import read_frame
from marketloop.customers.horizon import HorizonScores, score_horizon
from marketloop.customers.interests import interest_tags
from marketloop.customers.lifecycle import activity_summary, lifecycle_stages
from marketloop.customers.rfm import RFMConfig, rfm_table
from marketloop.customers.transactions import check_transactions, rfm_summary, transactions_from_store
from marketloop.errors import InputError, NotFoundError
from marketloop.store import schema
from marketloop.store.bulk import insert_frame

if TYPE_CHECKING:
    from marketloop.store.engine import Store

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
    #: shares of customers in the low, medium, high and very_high churn bands (quantiles of the probability)
    band_shares: tuple[float, float, float, float] = BAND_SHARES
    half_life_days: float = 90.0
    min_history_days: int = 28
    n_draws: int = 50
    rfm: RFMConfig = field(default_factory=RFMConfig)
    random_state: int | None = 0

    def make_clv(self) -> CLVModel:
        return CLVModel(
            model=self.model,
            method=self.method,
            priors=self.priors,
            time_unit_days=self.time_unit_days,
            n_draws=self.n_draws,
            random_state=self.random_state,
        )


def _noop(step: str) -> None:
    return None


def default_as_of(store) -> dt.date:  # noqa: ANN001 - Store
    """The day of the store's last order (profiles describe the data, not the wall clock)."""
    last = store.scalar(sa.select(sa.func.max(schema.orders.c.ordered_at)))
    if last is None:
        raise InputError(
            "the store has no orders",
            field="orders",
            value=0,
            hint="Load orders first: marketloop ingest / marketloop import.",
        )
    return pd.Timestamp(last).date()


STEPS = (
    "read orders",
    "RFM segments",
    "lifetime value",
    "churn risk",
    "30-day propensity",
    "next order dates",
    "interest tags",
    "activity and lifecycle stage",
    "write profiles",
)


def build_profiles(
    store,  # noqa: ANN001 - Store
    as_of: dt.date | None = None,
    config: AnalyzeConfig | None = None,
    progress: Callable[[str], None] = _noop,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Compute the profile frame (columns of ``customer_profiles``) and a report of what was done."""
    config = config or AnalyzeConfig()
    check_config(config)
    timings: dict[str, float] = {}
    step = step_timer(timings, progress)
    as_of = as_of or default_as_of(store)
    tx = transactions_from_store(store, as_of)
    data = check_transactions(tx, min_history_days=config.min_history_days, today=max(as_of, utcnow().date()))
    step("read orders")

    rfm = rfm_table(tx, as_of, config.rfm).set_index("customer_id")
    step("RFM segments")

    summary = rfm_summary(tx, as_of, config.time_unit_days)
    clv = config.make_clv().fit(summary)
    value = clv.predict(summary, config.clv_horizon_days).set_index("customer_id")
    step("lifetime value")

    history = History.of(tx)
    churn = score_horizon(
        history,
        as_of,
        config.churn_horizon_days,
        clv,
        summary,
        event="churn",
        make_clv=config.make_clv,
        random_state=config.random_state,
    )
    step("churn risk")
    propensity = score_horizon(
        history,
        as_of,
        config.propensity_days,
        clv,
        summary,
        event="purchase",
        make_clv=config.make_clv,
        random_state=config.random_state,
    )
    step("30-day propensity")

    waits = clv.next_purchase_days(summary, (0.25, 0.5, 0.75))
    step("next order dates")
    interests = interest_tags(store, as_of, config.half_life_days)
    step("interest tags")
    activity = activity_summary(store, as_of)
    stages = lifecycle_stages(rfm["first_order_at"], activity, as_of)
    step("activity and lifecycle stage")

    frame, cut = assemble_profiles(
        as_of, config, rfm, activity, stages, value, churn, propensity, waits, summary["customer_id"], interests
    )

    report = build_report(as_of, config, data.as_dict(), len(frame), clv, cut, churn.selection, propensity.selection)
    risk = frame["churn_probability"].fillna(1.0)
    report["churn"]["bands"] = band_report(
        quantile_thresholds(risk.to_numpy(), config.band_shares),
        frame["churn_band"].value_counts().to_dict(),
        frame["churn_probability"].groupby(frame["churn_band"]).mean().to_dict(),
        churn.selection.calibration,
    )
    report["timings_s"] = timings
    return frame, report


def check_config(config: AnalyzeConfig) -> None:
    """The settings a refresh cannot run with, named (on any engine)."""
    if not 0 < config.high_value_share < 1:
        raise InputError(
            f"high_value_share must be between 0 and 1, got {config.high_value_share!r}",
            field="high_value_share",
            value=config.high_value_share,
        )


def step_timer(timings: dict[str, float], progress: Callable[[str], None]) -> Callable[[str], None]:
    """``step(name)``: record the seconds since the previous step under ``name`` and report progress."""
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now
        progress(name)

    return step


def build_report(
    as_of: dt.date,
    config: AnalyzeConfig,
    data: dict[str, object],
    customers: int,
    clv: CLVModel,
    cut: float,
    churn: Selection,
    propensity: Selection,
) -> dict[str, object]:
    """The refresh report (kept in ``profile_refreshes`` and printed by `marketloop analyze`)."""
    return {
        "as_of": str(as_of),
        "data": data,
        "customers": customers,
        "clv": {
            "model": clv.model,
            "method": clv.method,
            "params": clv.params_,
            "spend_params": clv.spend_params_,
            "fit_seconds": round(clv.fit_seconds_, 2),
            "horizon_days": config.clv_horizon_days,
            "high_value_cut": round(cut, 2),
        },
        "churn": churn.as_dict(),
        "propensity": propensity.as_dict(),
    }


def band_report(
    cuts: tuple[float, float, float],
    counts: dict[str, int],
    means: dict[str, float],
    calibration: dict,
) -> list[dict]:
    """Today's churn bands (customers per band and their mean probability, as counted by the engine):
    share and probability range, with the churn rate observed in the same band (same shares) on the latest
    labelled snapshot, so a marketer sees what "high" has meant."""
    observed = {b["band"]: b for b in calibration.get("bands", [])}
    total = max(sum(int(n) for n in counts.values()), 1)
    lows, highs = (0.0, *cuts), (*cuts, 1.0)
    rows = []
    for name, low, high in zip(BAND_NAMES, lows, highs, strict=True):
        n = int(counts.get(name, 0))
        past = observed.get(name, {})
        rows.append(
            {
                "band": name,
                "customers": n,
                "share": round(n / total, 4),
                "probability_from": round(float(low), 4),
                "probability_to": round(float(min(high, 1.0)), 4),
                "mean_probability": round(float(means[name]), 4) if n and name in means else None,
                "observed_rate": past.get("observed_rate"),
                "observed_on": calibration.get("snapshot"),
            }
        )
    return rows


def assemble_profiles(
    as_of: dt.date,
    config: AnalyzeConfig,
    rfm: pd.DataFrame,
    activity: pd.DataFrame,
    stages: pd.DataFrame,
    value: pd.DataFrame,
    churn: HorizonScores,
    propensity: HorizonScores,
    waits: np.ndarray,
    wait_ids: pd.Series,
    interests: pd.Series,
    *,
    cut: float | None = None,
    band_cuts: tuple[float, float, float] | None = None,
    computed_at: dt.datetime | None = None,
) -> tuple[pd.DataFrame, float]:
    """The ``customer_profiles`` rows of the customers of ``rfm`` (indexed by customer id) from each model's
    output, and the high-value cut. ``cut`` is the CLV above which a customer is high-value (default: the
    ``1 - high_value_share`` quantile of these customers; a partition of a store passes the store's);
    ``band_cuts`` likewise the churn probabilities between the risk bands (default: quantiles of these
    customers holding ``config.band_shares``)."""
    ids = rfm.index
    frame = pd.DataFrame(index=ids)
    frame["as_of"] = as_of
    for column in (
        "first_order_at",
        "last_order_at",
        "orders",
        "returns",
        "revenue",
        "recency_days",
        "r_score",
        "f_score",
        "m_score",
        "segment",
    ):
        frame[column] = rfm[column]
    frame["last_active_at"] = activity["last_active_at"].reindex(ids)
    for column in ("days_inactive", "activity_gap_days", "lifecycle_stage"):
        frame[column] = stages[column]
    for column in ("p_alive", "expected_orders", "expected_order_value", "clv", "clv_low", "clv_high"):
        frame[column] = value[column].reindex(ids)
    frame["churn_probability"] = churn.probability.reindex(ids).to_numpy()
    risk = frame["churn_probability"].fillna(1.0).to_numpy()
    cuts = band_cuts if band_cuts is not None else quantile_thresholds(risk, config.band_shares)
    frame["churn_band"] = risk_bands(risk, cuts)
    frame["churn_model"] = churn.selection.winner
    # One definition of churn (no order in the next H days): a customer who will order within H days is
    # still a customer, so p_alive (BG/NBD's chance of not having lapsed for good) is at least 1 - churn.
    frame["p_alive"] = np.fmax(frame["p_alive"].to_numpy(dtype=float), 1.0 - frame["churn_probability"].to_numpy())
    wait = pd.DataFrame(waits, index=wait_ids.astype(str).to_numpy(), columns=["low", "mid", "high"]).reindex(ids)
    base = pd.Timestamp(as_of)
    for column, source in (("next_order_at", "mid"), ("next_order_low", "low"), ("next_order_high", "high")):
        days = wait[source]
        frame[column] = [None if np.isnan(d) else (base + pd.Timedelta(days=int(d))).date() for d in days]
    frame["propensity_30d"] = propensity.probability.reindex(ids).to_numpy()
    if cut is None:
        cut = float(np.nanquantile(frame["clv"], 1 - config.high_value_share)) if len(frame) else np.inf
    frame["high_value"] = (frame["clv"] >= cut) & (frame["clv"] > 0)
    frame["interests_json"] = interests.reindex(ids).fillna("{}").to_numpy() if len(interests) else "{}"
    frame["churn_reasons_json"] = churn.reasons.reindex(ids).fillna("[]").to_numpy()
    frame["propensity_reasons_json"] = propensity.reasons.reindex(ids).fillna("[]").to_numpy()
    frame["computed_at"] = computed_at or utcnow()
    frame = frame.reset_index(names="customer_id")[list(PROFILE_COLUMNS)]
    return frame, cut


def write_profiles(
    store,  # noqa: ANN001 - Store
    frame: pd.DataFrame | Callable[[sa.Connection], object],
    refresh: dict[str, object] | None = None,
) -> None:
    """Replace the profile table with ``frame`` in one transaction (with the ``profile_refreshes`` row
    ``refresh``, when given, so the log never names profiles that were not written). ``frame`` may also
    be a function that inserts the rows on the transaction's connection (a batch engine's writer)."""
    with store.begin() as conn:
        conn.execute(schema.customer_profiles.delete())
        if callable(frame):
            frame(conn)
        else:
            insert_frame(conn, schema.customer_profiles, frame)
        if refresh is not None:
            conn.execute(schema.profile_refreshes.insert().values(**refresh))


def inputs_fingerprint(store, as_of: dt.date, config: AnalyzeConfig) -> str:  # noqa: ANN001 - Store
    """SHA-256 of the settings, the day and aggregates of everything a refresh reads: per order status the
    count, total and latest order time; the lines' count and value; the events' count and latest time; the
    products' count and distinct categories and brands; the customers' count; the ingestion runs' count and
    latest end. New, changed, cancelled or erased data moves at least one of them (an edit made outside
    MarketLoop that keeps every aggregate, e.g. swapping two totals, is not seen: `analyze --force`)."""
    o, ol, ev, p, c, runs = (
        schema.orders,
        schema.order_lines,
        schema.events,
        schema.products,
        schema.customers,
        schema.ingest_runs,
    )
    queries = [
        sa.select(o.c.status, sa.func.count(), sa.func.sum(o.c.total), sa.func.max(o.c.ordered_at))
        .group_by(o.c.status)
        .order_by(o.c.status),
        sa.select(sa.func.count(), sa.func.sum(ol.c.quantity * ol.c.unit_price)),
        sa.select(sa.func.count(), sa.func.max(ev.c.ts)),
        sa.select(sa.func.count(), sa.func.count(sa.distinct(p.c.category)), sa.func.count(sa.distinct(p.c.brand))),
        sa.select(sa.func.count()).select_from(c),
        sa.select(sa.func.count(), sa.func.max(runs.c.finished_at)),
    ]
    with store.connect() as conn:
        facts = [[[str(v) for v in row] for row in conn.execute(q)] for q in queries]
    settings = dataclasses.asdict(config)
    text = json.dumps({"as_of": str(as_of), "settings": settings, "data": facts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def last_refresh(store) -> dict[str, object] | None:  # noqa: ANN001 - Store
    """The latest ``profile_refreshes`` row (None before the first refresh)."""
    t = schema.profile_refreshes
    with store.connect() as conn:
        row = conn.execute(sa.select(t).order_by(t.c.computed_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def churn_bands(store) -> dict[str, object]:  # noqa: ANN001 - Store
    """What the stored churn figures mean, from the last refresh: the horizon H (churn = no order in the next
    H days), the model that won, and per band its probability range and the churn rate observed in it on the
    latest labelled snapshot (empty before the first refresh)."""
    last = last_refresh(store)
    if last is None:
        return {}
    churn = json.loads(str(last["report_json"])).get("churn", {})
    return {
        "definition": f"no order in the next {churn.get('horizon_days')} days",
        "horizon_days": churn.get("horizon_days"),
        "model": churn.get("winner"),
        "bands": churn.get("bands", []),
    }


def refresh_profiles(
    store: Store,
    as_of: dt.date | None = None,
    config: AnalyzeConfig | None = None,
    progress: Callable[[str], None] = _noop,
    *,
    force: bool = False,
    build: Callable[..., tuple[object, dict[str, object]]] | None = None,
) -> dict[str, object]:
    """Build and store the profiles; return the build report (with the write time).

    When the inputs are those of the last refresh (:func:`inputs_fingerprint`) and its profiles are still
    in the table, nothing is recomputed unless ``force``: the report is the last one, with ``skipped`` true.
    ``build(store, as_of, config, progress)`` computes them (default :func:`build_profiles`; a batch engine
    passes its own, returning a writer for :func:`write_profiles` and a report with ``customers``).
    """
    config = config or AnalyzeConfig()
    as_of = as_of or default_as_of(store)
    inputs = inputs_fingerprint(store, as_of, config)
    last = None if force else last_refresh(store)
    if last is not None and last["inputs_sha256"] == inputs:
        stored = store.scalar(sa.select(sa.func.count()).select_from(schema.customer_profiles))
        if stored == last["customers"]:
            report = json.loads(str(last["report_json"]))
            return {
                **report,
                "skipped": True,
                "computed_at": str(last["computed_at"]),
                "reason": "the orders, lines, events, products, customers and settings are those of the last refresh",
            }
    frame, report = (build or build_profiles)(store, as_of, config, progress)
    started = time.perf_counter()
    report["skipped"] = False
    refresh = {
        "refresh_id": uuid.uuid4().hex,
        "as_of": as_of,
        "inputs_sha256": inputs,
        "customers": int(report["customers"]),
        "report_json": json.dumps(report, default=str),
        "computed_at": utcnow(),
    }
    write_profiles(store, frame, refresh)
    report["timings_s"]["write profiles"] = round(time.perf_counter() - started, 2)  # type: ignore[index]
    progress("write profiles")
    return report


def load_profiles(store, columns: list[str] | None = None) -> pd.DataFrame:  # noqa: ANN001 - Store
    """Every stored profile (empty frame when `marketloop analyze` has not run yet)."""
    table = schema.customer_profiles
    cols = [table.c[name] for name in (columns or PROFILE_COLUMNS)]
    return read_frame(store, sa.select(*cols).order_by(table.c.customer_id))


#: profile columns the customer list can be sorted by (prefix "-" for descending)
SORTABLE = (
    "customer_id",
    "revenue",
    "orders",
    "clv",
    "churn_probability",
    "propensity_30d",
    "recency_days",
    "last_order_at",
    "first_order_at",
    "next_order_at",
    "p_alive",
    "last_active_at",
    "days_inactive",
)


def query_profiles(
    store,  # noqa: ANN001 - Store
    *,
    segment: str | None = None,
    churn_band: str | None = None,
    high_value: bool | None = None,
    lifecycle_stage: str | None = None,
    q: str | None = None,
    sort: str = "-clv",
    limit: int = 50,
    offset: int = 0,
    columns: list[str] | None = None,
) -> tuple[int, pd.DataFrame]:
    """One page of profiles, filtered and sorted in the database: ``(matching rows, page)``.

    `q` matches part of the customer id (case-insensitive); `sort` is a column of :data:`SORTABLE`,
    descending with a leading ``-``; missing values sort last either way, ties by customer id.
    """
    name = sort.removeprefix("-")
    if name not in SORTABLE:
        raise InputError(
            f"cannot sort by {sort!r} (expected one of: {', '.join(SORTABLE)}, optionally with a "
            "leading - for descending)",
            field="sort",
            value=sort,
            hint="For example sort=-clv.",
        )
    if limit < 1 or offset < 0:
        raise InputError(
            f"limit must be >= 1 and offset >= 0, got limit={limit}, offset={offset}",
            field="limit" if limit < 1 else "offset",
            value=limit if limit < 1 else offset,
        )
    table = schema.customer_profiles
    where = []
    if segment is not None:
        where.append(table.c.segment == segment)
    if churn_band is not None:
        where.append(table.c.churn_band == churn_band)
    if high_value is not None:
        where.append(table.c.high_value.is_(True) if high_value else table.c.high_value.is_not(True))
    if lifecycle_stage is not None:
        where.append(table.c.lifecycle_stage == lifecycle_stage)
    if q:
        where.append(sa.func.lower(table.c.customer_id).contains(q.lower(), autoescape=True))
    total = int(store.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0)
    col = table.c[name]
    key = col.desc() if sort.startswith("-") else col.asc()
    cols = [table.c[c] for c in (columns or PROFILE_COLUMNS)]
    query = (
        sa.select(*cols)
        .where(*where)
        .order_by(sa.case((col.is_(None), 1), else_=0), key, table.c.customer_id)  # NULLs last on every backend
        .limit(limit)
        .offset(offset)
    )
    return total, store.read_sql(query)


def get_profile(store, customer_id: str) -> dict[str, object]:  # noqa: ANN001 - Store
    """One customer's profile as a dict; NotFoundError naming the id when there is none."""
    table = schema.customer_profiles
    frame = store.read_sql(sa.select(table).where(table.c.customer_id == str(customer_id)))
    if frame.empty:
        known = store.scalar(sa.select(sa.func.count()).select_from(table))
        hint = (
            "Run `marketloop analyze` first."
            if not known
            else "Check the id with `marketloop segments` or the customers table."
        )
        raise NotFoundError(f"No profile for customer {customer_id!r}", hint=hint)
    return frame.iloc[0].to_dict()


#: customer attributes shown with a profile (contact details and names are personal data: never here)
PUBLIC_CUSTOMER_FIELDS = ("country", "language", "time_zone", "signup_at", "is_guest")


def recent_orders(store, customer_id: str, limit: int = 10) -> list[dict[str, object]]:  # noqa: ANN001 - Store
    """The customer's last `limit` orders (returns included), newest first, each with its lines."""
    o, ln, p = schema.orders, schema.order_lines, schema.products
    heads = store.read_sql(
        sa.select(o.c.order_id, o.c.ordered_at, o.c.status, o.c.is_return, o.c.total, o.c.currency, o.c.channel)
        .where(o.c.customer_id == str(customer_id))
        .order_by(o.c.ordered_at.desc(), o.c.order_id)
        .limit(limit)
    )
    if heads.empty:
        return []
    lines = store.read_sql(
        sa.select(
            ln.c.order_id,
            ln.c.line_no,
            ln.c.product_id,
            p.c.name,
            p.c.category,
            ln.c.quantity,
            ln.c.unit_price,
            ln.c.discount,
        )
        .select_from(ln.outerjoin(p, p.c.product_id == ln.c.product_id))
        .where(ln.c.order_id.in_(heads["order_id"].tolist()))
        .order_by(ln.c.order_id, ln.c.line_no)
    )
    by_order: dict[str, list[dict]] = {}
    for row in lines.to_dict("records"):
        by_order.setdefault(row.pop("order_id"), []).append(row)
    out = heads.to_dict("records")
    for order in out:
        order["lines"] = by_order.get(order["order_id"], [])
    return out


def customer_view(store, customer_id: str, n_orders: int = 10) -> dict[str, object]:  # noqa: ANN001 - Store
    """The customer 360 of one customer: non-personal attributes, the stored profile with its interests
    and churn / propensity reasons parsed, recent orders and consents. A known customer without a profile
    (no completed order, or `marketloop analyze` not run yet) has ``profile = None``; an id the store
    does not know at all raises NotFoundError."""
    import json

    c, k = schema.customers, schema.consents
    attrs = store.read_sql(
        sa.select(*(c.c[f] for f in PUBLIC_CUSTOMER_FIELDS)).where(c.c.customer_id == str(customer_id))
    )
    try:
        profile: dict[str, object] | None = get_profile(store, customer_id)
    except NotFoundError:
        ordered = store.scalar(
            sa.select(sa.func.count()).select_from(schema.orders).where(schema.orders.c.customer_id == str(customer_id))
        )
        if attrs.empty and not ordered:
            raise NotFoundError(
                f"no customer {customer_id!r} in this store", hint="Check the id (GET /v1/customers lists them)."
            ) from None
        profile = None
    parsed = {}
    for key in ("interests_json", "churn_reasons_json", "propensity_reasons_json"):
        raw = profile.pop(key) if profile is not None else None
        parsed[key.removesuffix("_json")] = json.loads(raw) if isinstance(raw, str) and raw else None
    consents = store.read_sql(
        sa.select(k.c.channel, k.c.status, k.c.updated_at, k.c.source)
        .where(k.c.customer_id == str(customer_id))
        .order_by(k.c.channel)
    )
    return {
        "customer_id": str(customer_id),
        "customer": attrs.iloc[0].to_dict() if len(attrs) else None,
        "profile": profile,
        "interests": parsed["interests"] or {},
        "churn_reasons": parsed["churn_reasons"] or [],
        "propensity_reasons": parsed["propensity_reasons"] or [],
        "recent_orders": recent_orders(store, customer_id, n_orders),
        "consents": consents.to_dict("records"),
    }
