"""The monitor: is the data still what the models learned from, and do their predictions come true?

- **Drift** (:func:`check_drift`): the planner's customer features (``strategy.features.FEATURES``, the
  uplift models' inputs) and the profile scores (churn probability, 30-day propensity, CLV, P(alive))
  against their *reference*: the window the models acting on customers were trained on, kept in
  ``monitor_records`` when the uplift refresh trains (:func:`take_reference`). Each feature gets a PSI and,
  when numeric, a KS statistic (:mod:`marketloop.ops.drift`); a feature over a threshold raises a ``drift``
  alert naming it, and a feature back under it clears its alert.
- **Quality** (:func:`check_quality`): each measured campaign's realised incremental conversions against
  the interval the planner predicted, recorded at every run (a series over time), alerting when the
  realised interval lies wholly below the predicted one; and for campaigns that featured recommended
  products, the click-through and the share of featured products bought within the window, next to the
  promoted recommender's offline precision at k, alerting when it falls below ``quality_drop_threshold``
  of it.
- **Freshness** (:func:`check_freshness`): the newest order and event against the business clock, and the
  reject rate of recent ingestion runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.ops.drift import compare, reference_of
from marketloop.store import schema

log = logging.getLogger("marketloop.monitor")

FEATURES_SUBJECT = "customer_features"
SCORES_SUBJECT = "profile_scores"
SCORE_COLUMNS = ("churn_probability", "propensity_30d", "clv", "p_alive")


def _record(store: Any, kind: str, subject: str, figures: Any, now: dt.datetime, start=None, end=None) -> str:  # noqa: ANN001
    record_id = uuid.uuid4().hex
    with store.begin() as conn:
        conn.execute(
            schema.monitor_records.insert().values(
                record_id=record_id,
                kind=kind,
                subject=subject[:255],
                window_start=start,
                window_end=end,
                created_at=now,
                figures_json=json.dumps(figures, default=str, sort_keys=True),
            )
        )
    return record_id


def latest_record(store: Any, kind: str, subject: str) -> dict | None:
    t = schema.monitor_records
    with store.connect() as conn:
        row = (
            conn.execute(
                sa.select(t)
                .where(t.c.kind == kind, t.c.subject == subject)
                .order_by(t.c.created_at.desc(), t.c.record_id)
                .limit(1)
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    out = dict(row)
    out["figures"] = json.loads(out.pop("figures_json"))
    return out


def records(store: Any, kind: str, *, subject_prefix: str = "", limit: int = 200) -> list[dict]:
    """The monitor's records of one kind, oldest first (a series to chart)."""
    t = schema.monitor_records
    q = sa.select(t).where(t.c.kind == kind).order_by(t.c.created_at.desc(), t.c.record_id).limit(limit)
    if subject_prefix:
        q = q.where(t.c.subject.startswith(subject_prefix, autoescape=True))
    with store.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings().all()]
    for r in rows:
        r["figures"] = json.loads(r.pop("figures_json"))
    return rows[::-1]


# ----------------------------------------------------------------------------------------------- drift
def current_features(store: Any, as_of: dt.datetime) -> pd.DataFrame:
    from marketloop.strategy.features import customer_features

    return customer_features(store, as_of=as_of)


def current_scores(store: Any) -> pd.DataFrame:
    from marketloop.customers.profile import load_profiles

    frame = load_profiles(store, ["customer_id", *SCORE_COLUMNS])
    return frame[list(SCORE_COLUMNS)] if len(frame) else pd.DataFrame(columns=list(SCORE_COLUMNS))


def take_reference(store: Any, as_of: dt.datetime, now: dt.datetime, *, window_days: float = 90.0) -> dict:
    """Keep the reference distributions of the customer features as of ``as_of`` (the training cut-off) and
    of the profile scores now. Returns the record ids."""
    start = as_of - dt.timedelta(days=window_days)
    features = reference_of(current_features(store, as_of))
    out = {"features": _record(store, "reference", FEATURES_SUBJECT, features, now, start, as_of)}
    scores = current_scores(store)
    if len(scores):
        out["scores"] = _record(store, "reference", SCORES_SUBJECT, reference_of(scores), now, start, as_of)
    return out


def check_drift(ctx: Any, *, as_of: dt.datetime | None = None) -> dict:
    """Compare the current features and scores with their references; alert on the drifted ones."""
    from marketloop.strategy.features import store_now

    s = ctx.settings
    store = ctx.store
    as_of = as_of or store_now(store)
    out: dict[str, Any] = {"as_of": as_of, "subjects": {}}
    drifted: set[str] = set()
    sources = {
        FEATURES_SUBJECT: lambda: current_features(store, as_of),
        SCORES_SUBJECT: lambda: current_scores(store),
    }
    for subject, source in sources.items():
        ref = latest_record(store, "reference", subject)
        if ref is None:
            out["subjects"][subject] = {"tested": False, "reason": "no reference yet (no model trained on customers)"}
            continue
        rows = compare(
            ref["figures"],
            source(),
            psi_threshold=s.drift_psi_threshold,
            ks_threshold=s.drift_ks_threshold,
            min_rows=s.drift_min_rows,
        )
        report = {
            "tested": True,
            "reference_window": [ref["window_start"], ref["window_end"]],
            "features": [r.as_dict() for r in rows],
            "drifted": [r.feature for r in rows if r.drifted],
        }
        out["subjects"][subject] = report
        _record(store, "drift", subject, report, ctx.now(), ref["window_end"], as_of)
        for r in rows:
            if not r.drifted:
                continue
            key = f"{subject}.{r.feature}"
            drifted.add(key)
            mean = (
                f" (mean {r.reference_mean:g} -> {r.current_mean:g})"
                if r.reference_mean is not None and r.current_mean is not None
                else ""
            )
            ctx.alert(
                "drift",
                key,
                f"{r.feature} has drifted from the training window: {r.reason}{mean}",
                details=r.as_dict(),
            )
    ctx.alerts.clear("drift", drifted)
    out["drifted"] = sorted(drifted)
    return out


# --------------------------------------------------------------------------------------------- quality
def _measured_campaigns(store: Any) -> pd.DataFrame:
    s = schema.sends
    return store.read_sql(
        sa.select(s.c.campaign_id, sa.func.min(s.c.sent_at).label("first_sent"))
        .where(s.c.sent_at.is_not(None))
        .group_by(s.c.campaign_id)
        .order_by(sa.func.min(s.c.sent_at))
    )


def _offline_precision(store: Any, k_hint: int = 10) -> tuple[float | None, str | None]:
    """The promoted recommender's offline precision@k (from its promotion gate), when it has one."""
    t = schema.recs_models
    frame = store.read_sql(sa.select(t.c.name, t.c.version, t.c.metrics_json).where(t.c.status == "promoted"))
    for row in frame.itertuples():
        metrics = json.loads(row.metrics_json or "{}")
        gate = metrics.get("gate") or {}
        for key in (f"precision@{k_hint}", "precision@10"):
            value = (gate.get("candidate") or {}).get(key, metrics.get(key))
            if value is not None:
                return float(value), f"{row.name} v{row.version}"
    return None, None


def featured_products_quality(store: Any, campaign_id: str, window_days: int) -> dict | None:
    """Click-through and featured-product purchase rate of a campaign's treated, sent messages."""
    from marketloop.store.campaigns import load_audience

    s, o, ol, so = schema.sends, schema.orders, schema.order_lines, schema.send_outcomes
    sent = store.read_sql(
        sa.select(s.c.send_id, s.c.customer_id, s.c.sent_at).where(
            s.c.campaign_id == campaign_id, s.c.is_holdout.is_(False), s.c.status == "sent"
        )
    )
    audience = load_audience(store, campaign_id)
    products = dict(zip(audience["customer_id"].astype(str), audience["products_json"], strict=True))
    sent["products_json"] = sent["customer_id"].astype(str).map(products)
    sent = sent[sent["products_json"].notna()]
    if sent.empty:
        return None
    featured = {r.send_id: set(json.loads(r.products_json) or []) for r in sent.itertuples()}
    shown = sum(len(v) for v in featured.values())
    if shown == 0:
        return None
    first, last = pd.to_datetime(sent["sent_at"]).min(), pd.to_datetime(sent["sent_at"]).max()
    bought = store.read_sql(
        sa.select(o.c.customer_id, o.c.ordered_at, ol.c.product_id)
        .join(ol, ol.c.order_id == o.c.order_id)
        .where(
            o.c.customer_id.in_(sent["customer_id"].astype(str).unique().tolist()),
            o.c.is_return.is_(False),
            o.c.ordered_at >= first.to_pydatetime(),
            o.c.ordered_at <= (last + pd.Timedelta(days=window_days)).to_pydatetime(),
        )
    )
    by_customer: dict[str, list[tuple[pd.Timestamp, str]]] = {}
    for r in bought.itertuples():
        by_customer.setdefault(str(r.customer_id), []).append((pd.Timestamp(r.ordered_at), str(r.product_id)))
    hits = 0
    for r in sent.itertuples():
        start = pd.Timestamp(r.sent_at)
        end = start + pd.Timedelta(days=window_days)
        got = {p for t, p in by_customer.get(str(r.customer_id), []) if start <= t <= end}
        hits += len(got & featured[r.send_id])
    clicks = store.read_sql(
        sa.select(so.c.send_id).where(so.c.kind == "click", so.c.send_id.in_(sent["send_id"].tolist())).distinct()
    )
    return {
        "messages": int(len(sent)),
        "featured_products": int(shown),
        "featured_bought": int(hits),
        "featured_purchase_rate": hits / shown,
        "click_through": len(clicks) / len(sent),
    }


def check_quality(ctx: Any) -> dict:
    """Realised vs predicted for every campaign with sends; recorded and alerted (see the module doc)."""
    from marketloop.measure.report import campaign_results
    from marketloop.store.campaigns import load_plan

    store, s = ctx.store, ctx.settings
    now = ctx.now()
    out: list[dict] = []
    missed: set[str] = set()
    offline, model = _offline_precision(store)
    for row in _measured_campaigns(store).itertuples():
        cid = str(row.campaign_id)
        try:
            plan = load_plan(store, cid)
            results = campaign_results(store, cid)
        except Exception as exc:  # noqa: BLE001 - a campaign that cannot be measured is reported, not fatal
            out.append({"campaign_id": cid, "error": str(exc).splitlines()[0][:200]})
            continue
        first = pd.Timestamp(row.first_sent).to_pydatetime()
        closed = now >= first + dt.timedelta(days=plan.window_days)
        conv = next((p for p in results["prediction"] if p["metric"] == "incremental_conversions"), None)
        figures: dict[str, Any] = {
            "campaign_id": cid,
            "window_closed": closed,
            "days_since_send": round((now - first).total_seconds() / 86_400, 2),
            "incremental_conversions": conv,
        }
        rec = featured_products_quality(store, cid, plan.window_days)
        if rec is not None:
            rec["offline_precision"] = offline
            rec["offline_model"] = model
            figures["recommendations"] = rec
        _record(store, "quality", f"campaign:{cid}", figures, now, first, now)
        out.append(figures)
        if not closed:
            continue  # outcomes are still arriving: judging now would always find too few
        if conv and conv.get("predicted_low") is not None and conv.get("realised_high") is not None:
            if np.isfinite(conv["realised_high"]) and conv["realised_high"] < conv["predicted_low"]:
                key = f"campaign:{cid}:incremental_conversions"
                missed.add(key)
                ctx.alert(
                    "quality",
                    key,
                    f"campaign {cid}: realised incremental conversions {conv['realised']:.1f} "
                    f"[{conv['realised_low']:.1f}, {conv['realised_high']:.1f}] fell below the predicted "
                    f"{conv['predicted']:.1f} [{conv['predicted_low']:.1f}, {conv['predicted_high']:.1f}]",
                    details=conv,
                )
        if rec is not None and offline:
            if rec["featured_purchase_rate"] < s.quality_drop_threshold * offline:
                key = f"campaign:{cid}:recommendations"
                missed.add(key)
                ctx.alert(
                    "quality",
                    key,
                    f"campaign {cid}: {rec['featured_purchase_rate']:.2%} of featured products were bought, under "
                    f"{s.quality_drop_threshold:.0%} of the recommender's offline precision ({offline:.2%}, {model})",
                    details=rec,
                )
    ctx.alerts.clear("quality", missed)
    return {"campaigns": out, "offline_precision": offline, "offline_model": model}


# ------------------------------------------------------------------------------------------- freshness
def check_freshness(ctx: Any) -> dict:
    """Hours since the newest order and event (business clock) and the reject rate of recent loads."""
    store, s = ctx.store, ctx.settings
    now = ctx.now()
    latest = {
        "orders": store.scalar(sa.select(sa.func.max(schema.orders.c.ordered_at))),
        "events": store.scalar(sa.select(sa.func.max(schema.events.c.ts))),
    }
    figures: dict[str, Any] = {"now": now, "tables": {}, "ingest": []}
    stale: set[str] = set()
    for table, when in latest.items():
        if when is None:
            figures["tables"][table] = {"latest": None, "age_hours": None}
            continue
        age = (now - pd.Timestamp(when).to_pydatetime()).total_seconds() / 3600
        figures["tables"][table] = {"latest": when, "age_hours": round(age, 2)}
        if age > s.freshness_max_hours:
            stale.add(table)
            ctx.alert(
                "freshness",
                table,
                f"the newest {table[:-1]} is {age:.0f} hours old (more than {s.freshness_max_hours:g})",
                details=figures["tables"][table],
            )
    ctx.alerts.clear("freshness", stale)
    r = schema.ingest_runs
    runs = store.read_sql(
        sa.select(r.c.ingest_id, r.c.kind, r.c.source, r.c.rows_read, r.c.rows_rejected, r.c.finished_at)
        .order_by(r.c.finished_at.desc())
        .limit(50)
    )
    rejecting: set[str] = set()
    for run in runs.itertuples():
        read = int(run.rows_read or 0)
        rate = int(run.rows_rejected or 0) / read if read else 0.0
        figures["ingest"].append(
            {"kind": run.kind, "source": run.source, "rows_read": read, "reject_rate": round(rate, 4)}
        )
        if rate > s.reject_rate_threshold:
            key = f"{run.kind}:{run.ingest_id[:12]}"
            rejecting.add(key)
            ctx.alert(
                "rejects",
                key,
                f"loading {run.kind} from {run.source} rejected {rate:.1%} of {read:,} records "
                f"(threshold {s.reject_rate_threshold:.0%}); see `marketloop db rejects`",
                details={"ingest_id": run.ingest_id, "rows_read": read, "rows_rejected": int(run.rows_rejected)},
            )
    ctx.alerts.clear("rejects", rejecting)
    _record(store, "freshness", "store", figures, now)
    return figures
