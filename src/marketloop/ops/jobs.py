"""The built-in jobs, registered with :func:`marketloop.ops.schedule.register_job` at import.

- ``profiles``: refresh the customer profiles (skipped when nothing they read changed);
- ``recs``: retrain the recommender behind the promotion gate (``recs/gate.py``); a retrain that is worse
  than the served model on the latest window is not promoted and raises a ``retrain`` alert;
- ``uplift``: after each randomised campaign's attribution window closes, refit the offer-response (uplift)
  model on the randomised history, score it out of sample (uplift at 30 % and Qini per offer on a held-out
  third of the customers), and keep the training window as the drift monitor's reference;
- ``monitor``: drift, realised vs predicted quality, freshness and reject rates (``ops/monitor.py``).

A forecasting (or any other) package plugs in its job the same way, see ``ops/schedule.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.ops.schedule import Job, JobContext, JobResult, register_job
from marketloop.store import schema


def refresh_profiles_job(ctx: JobContext) -> JobResult:
    from marketloop.customers.profile import refresh_profiles

    if not ctx.store.scalar(sa.select(sa.func.count()).select_from(schema.orders)):
        return JobResult("skipped", "the store has no orders yet")
    report = refresh_profiles(ctx.store)
    figures = {
        "customers": report.get("customers"),
        "as_of": report.get("as_of"),
        "churn_model": (report.get("churn") or {}).get("winner"),
        "timings_s": report.get("timings_s"),
    }
    if report.get("skipped"):
        return JobResult("skipped", "profiles are current: nothing they read has changed", figures)
    return JobResult("ok", f"{report['customers']:,} profiles as of {report['as_of']}", figures)


def retrain_recs_job(ctx: JobContext) -> JobResult:
    from marketloop.recs.gate import gated_retrain

    s = ctx.settings
    if not ctx.store.scalar(sa.select(sa.func.count()).select_from(schema.orders)):
        return JobResult("skipped", "the store has no orders yet")
    result = gated_retrain(
        ctx.store,
        s.models_dir,
        model=s.recs_retrain_model,
        window_days=s.recs_gate_window_days,
        metric=s.recs_gate_metric,
        tolerance=s.recs_gate_tolerance,
        encoder=s.recs_encoder,
        cache_dir=str(s.cache_dir),
    )
    figures = result.as_dict()
    if result.decision == "kept":
        ctx.alert(
            "retrain",
            f"recs:{result.model}",
            f"retrained {result.model} not promoted: {result.reason}",
            details=figures,
        )
        return JobResult("kept", result.reason, figures)
    if result.decision == "skipped":
        return JobResult("skipped", result.reason, figures)
    ctx.alerts.clear("retrain", prefix=f"recs:{result.model}")
    return JobResult("ok", f"{result.model} v{result.promoted_version}: {result.reason}", figures)


# ---------------------------------------------------------------------------------------------- uplift
def closed_campaigns(store: Any, now: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Randomised campaigns (sends with a holdout) whose attribution window has closed by ``now``:
    (campaign id, first send, window end), oldest first."""
    from marketloop.store.campaigns import launched_campaigns

    s = schema.sends
    rows = store.read_sql(
        sa.select(s.c.campaign_id, sa.func.min(s.c.sent_at).label("first"))
        .where(s.c.sent_at.is_not(None))
        .where(s.c.campaign_id.in_(sa.select(s.c.campaign_id).where(s.c.is_holdout.is_(True))))
        .group_by(s.c.campaign_id)
    )
    plans = {c.campaign_id: c.plan for c in launched_campaigns(store, [str(x) for x in rows["campaign_id"]])}
    out = []
    for r in rows.itertuples():
        plan = plans.get(str(r.campaign_id))
        window = plan.window_days if plan is not None else 14
        first = pd.Timestamp(r.first).to_pydatetime()
        end = first + dt.timedelta(days=window)
        if end <= now:
            out.append((str(r.campaign_id), first, end))
    return sorted(out, key=lambda x: x[1])


def _refreshed(store: Any) -> set[str]:
    t = schema.monitor_records
    rows = store.read_sql(sa.select(t.c.subject).where(t.c.kind == "uplift"))
    return {s.removeprefix("campaign:") for s in rows["subject"]}


def holdout_uplift_scores(store: Any, history: Any, *, learner: str = "t_learner", random_state: int = 0) -> dict:
    """Fit on two thirds of the history's customers, score uplift@30 % and Qini per offer on the rest."""
    from marketloop.strategy.features import FEATURES, customer_features
    from marketloop.strategy.history import CONTROL, RandomisedHistory
    from marketloop.strategy.metrics import qini_auc_score, uplift_at_k
    from marketloop.strategy.planner import fit_response_model

    rows = history.rows
    rng = np.random.default_rng(random_state)
    test = rng.random(len(rows)) < 1 / 3
    train = RandomisedHistory(
        rows=rows[~test].reset_index(drop=True), sent_at=history.sent_at, campaigns=history.campaigns
    )
    model = fit_response_model(store, train, learner, random_state)
    held = rows[test]
    feats = customer_features(store, as_of=history.sent_at)
    held = held[held["customer_id"].isin(feats.index)]
    X = feats.loc[held["customer_id"], list(FEATURES)].to_numpy()
    out: dict[str, Any] = {"train_customers": int((~test).sum()), "test_customers": int(len(held)), "arms": {}}
    for arm in sorted(a for a in held["arm"].unique() if a != CONTROL and a in model.arms_):
        pick = (held["arm"] == arm) | (held["arm"] == CONTROL)
        t = (held.loc[pick, "arm"] == arm).to_numpy(dtype=float)
        if t.sum() < 30 or (1 - t).sum() < 30:
            continue
        y = held.loc[pick, "converted"].to_numpy(dtype=float)
        score = model.predict(X[pick.to_numpy()], arm)
        out["arms"][arm] = {
            "uplift_at_30": round(float(uplift_at_k(y, score, t, 0.3)), 5),
            "qini_auc": round(float(qini_auc_score(y, score, t)), 5),
            "treated": int(t.sum()),
            "control": int((1 - t).sum()),
        }
    values = [a["uplift_at_30"] for a in out["arms"].values()]
    out["mean_uplift_at_30"] = round(float(np.mean(values)), 5) if values else None
    return out


def refresh_uplift_job(ctx: JobContext) -> JobResult:
    from marketloop.ops.monitor import _record, take_reference
    from marketloop.strategy.history import read_history

    now = ctx.now()
    closed = closed_campaigns(ctx.store, now)
    done = _refreshed(ctx.store)
    new = [c for c in closed if c[0] not in done]
    if not new:
        return JobResult("skipped", "no randomised campaign's window has closed since the last refresh")
    ids = [c[0] for c in closed]
    history = read_history(ctx.store, campaign_ids=ids)
    if history is None:
        return JobResult("skipped", "no randomised history")
    scores = holdout_uplift_scores(ctx.store, history)
    refs = take_reference(ctx.store, history.sent_at, now)
    figures = {
        "campaigns": ids,
        "new": [c[0] for c in new],
        "history_customers": int(len(history.rows)),
        "evaluation": scores,
        "reference": refs,
    }
    for cid, first, end in new:
        _record(ctx.store, "uplift", f"campaign:{cid}", figures, now, first, end)
    mean = scores["mean_uplift_at_30"]
    if mean is not None and mean <= 0:
        ctx.alert(
            "quality",
            "uplift_model",
            f"the uplift model does not beat random targeting out of sample (mean uplift@30 % {mean:+.4f})",
            details=scores,
        )
    else:
        ctx.alerts.clear("quality", prefix="uplift_model")
    scored = f"; held-out uplift@30 % {mean:+.4f}" if mean is not None else ""
    return JobResult(
        "ok",
        f"refit on {len(ids)} campaign(s), {len(history.rows):,} customers after {', '.join(figures['new'])}{scored}",
        figures,
    )


def monitor_job(ctx: JobContext) -> JobResult:
    from marketloop.ops.monitor import check_drift, check_freshness, check_quality

    drift = check_drift(ctx)
    quality = check_quality(ctx)
    fresh = check_freshness(ctx)
    figures = {
        "drifted": drift["drifted"],
        "drift_tested": {k: v.get("tested", False) for k, v in drift["subjects"].items()},
        "campaigns_checked": len(quality["campaigns"]),
        "freshness_hours": {k: v["age_hours"] for k, v in fresh["tables"].items()},
        "ingest_runs_checked": len(fresh["ingest"]),
    }
    parts = [f"{len(drift['drifted'])} drifted feature(s)" if drift["drifted"] else "no drift"]
    parts.append(f"{len(quality['campaigns'])} campaign(s) checked")
    return JobResult("ok", "; ".join(parts), json.loads(json.dumps(figures, default=str)))


def forecast_job(ctx: JobContext) -> JobResult:
    """Refit the demand forecast (daily, 28 days ahead) and the stock cover the planner and campaigns read."""
    from marketloop.errors import InputError
    from marketloop.forecast.data import read_sales
    from marketloop.forecast.inventory import save_cover, stock_cover
    from marketloop.forecast.model import DemandForecaster
    from marketloop.forecast.storage import save_run

    try:
        history = read_sales(ctx.store)
        model = DemandForecaster().fit(history)
    except InputError as exc:  # no sales yet, or too little history for the horizon
        return JobResult("skipped", exc.message)
    run = save_run(ctx.store, model, now=ctx.now())
    cover = stock_cover(ctx.store, run)
    save_cover(ctx.store, cover, run.run_id, now=ctx.now())
    risks = {str(k): int(v) for k, v in cover["risk"].value_counts().items()} if len(cover) else {}
    return JobResult(
        "ok",
        f"run {run.run_id}: {run.metrics['series']['product']} products; stock cover {risks or 'n/a'}",
        {"run_id": run.run_id, "series": run.metrics["series"], "risks": risks},
    )


register_job(Job("profiles", refresh_profiles_job, "refresh the customer profiles", "0 2 * * *"), replace=True)
register_job(
    Job("recs", retrain_recs_job, "retrain the recommender; promote it only if it is not worse", "0 3 * * *"),
    replace=True,
)
register_job(
    Job(
        "uplift", refresh_uplift_job, "refit and score the uplift model after a campaign's window closes", "15 * * * *"
    ),
    replace=True,
)
register_job(Job("monitor", monitor_job, "drift, quality, freshness and reject rates", "30 * * * *"), replace=True)
register_job(Job("forecast", forecast_job, "refit demand forecasts and stock cover", "0 4 * * *"), replace=True)
