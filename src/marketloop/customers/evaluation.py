"""Evaluations users run on their own transactions before trusting the numbers.

:func:`evaluate_clv`: fit on a calibration period, predict each customer's repeat purchases in the
holdout, and compare with what happened and with the naive baseline (the customer's historical
purchase rate times the holdout length), all in the same run.

:func:`evaluate_churn`: train on the snapshot ``as_of - H`` (outcome known by ``as_of``), test on the
snapshot ``as_of`` (outcome in the next H days): LightGBM (trained on three stacked snapshots
ending at ``as_of - H``, 14 days apart), BG/NBD (fitted on the data up to ``as_of``), and two rule
baselines: ``rfm_rule``, the fixed risk ranking of the named RFM segments, and ``rfm_cells``, the
churn rate of each (R, FM) score cell learned on the snapshot ``as_of - H``. ``bgnbd_calibrated`` is BG/NBD
mapped to observed rates as the profile refresh does: an isotonic map from BG/NBD's probabilities on the
snapshot ``as_of - H`` (BG/NBD fitted on the data up to then) to what happened by ``as_of``.

Every model is scored for calibration too: the reliability diagram (10 bins) and, per churn band (the
profile's quantile bands: the riskiest 10 % are very_high), the observed churn rate, the calibration error
inside the band and the share of customers the observed rates justify at or above the band's lower bound.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd

from marketloop.clock import utcnow
from marketloop.customers.churn import (
    DEFAULT_BANDS,
    ChurnClassifier,
    Recalibrator,
    RFMRuleBaseline,
    band_calibration,
    reliability,
    score,
    segment_rule_scores,
)
from marketloop.customers.clv import CLVModel
from marketloop.customers.features import History, behaviour_features, no_purchase_labels, training_snapshots
from marketloop.customers.rfm import rfm_table
from marketloop.customers.transactions import check_transactions, repeat_purchases_between, rfm_summary
from marketloop.errors import InputError


def _check_window(tx: pd.DataFrame, start: dt.date, end: dt.date, what: str) -> None:
    if end <= start:
        raise InputError(
            f"{what}: the end {end} is not after the start {start}",
            field=what,
            value=str(end),
            hint="The holdout must end after the calibration period.",
        )
    last = tx["ts"].max().date()
    # The last order's day stands in for the end of the data; a week of quiet days at the end is normal.
    if last + dt.timedelta(days=7) < end:
        raise InputError(
            f"{what}: the data end on {last}, before the end of the evaluation window {end}",
            field=what,
            value=str(end),
            hint=f"Choose dates so that the window ends on or before {last}.",
        )


def evaluate_clv(
    tx: pd.DataFrame,
    calibration_end: dt.date,
    holdout_end: dt.date,
    model: CLVModel | None = None,
) -> dict[str, object]:
    """Fitted parameters, holdout totals, per-customer MAE vs the naive baseline, fit seconds."""
    data = check_transactions(tx, as_of=calibration_end, today=max(holdout_end, utcnow().date()))
    _check_window(tx, calibration_end, holdout_end, "holdout_end")
    model = model or CLVModel()
    summary = rfm_summary(tx, calibration_end, model.time_unit_days)
    model.fit(summary)
    horizon_days = (holdout_end - calibration_end).days
    predicted = model.expected_purchases(summary, horizon_days)
    actual = (
        repeat_purchases_between(tx, calibration_end, holdout_end).reindex(summary["customer_id"]).fillna(0).to_numpy()
    )
    # Naive baseline: repeat purchases per unit of time observed so far, carried over the holdout.
    horizon_units = horizon_days / model.time_unit_days
    naive = (
        np.where(summary["T"] > 0, summary["frequency"] / summary["T"].where(summary["T"] > 0, 1), 0) * horizon_units
    )
    mae_model = float(np.mean(np.abs(predicted - actual)))
    mae_naive = float(np.mean(np.abs(naive - actual)))
    total_actual = float(actual.sum())
    return {
        "data": data.as_dict(),
        "model": model.model,
        "method": model.method,
        "priors": model.priors,
        "time_unit_days": model.time_unit_days,
        "calibration_end": str(calibration_end),
        "holdout_end": str(holdout_end),
        "customers": len(summary),
        "params": {k: round(v, 4) for k, v in model.params_.items()},
        "spend_params": None
        if model.spend_params_ is None
        else {k: round(v, 4) for k, v in model.spend_params_.items()},
        "fit_seconds": round(model.fit_seconds_, 2),
        "fit_cpu_seconds": round(model.fit_cpu_seconds_, 2),
        "holdout": {
            "actual_repeat_purchases": total_actual,
            "predicted_repeat_purchases": round(float(predicted.sum()), 1),
            "relative_error": round(float(predicted.sum() / total_actual - 1), 4) if total_actual else None,
            "naive_predicted": round(float(naive.sum()), 1),
        },
        "per_customer_mae": {
            "model": round(mae_model, 4),
            "naive": round(mae_naive, 4),
            "improvement": round(1 - mae_model / mae_naive, 4) if mae_naive else None,
        },
    }


def evaluate_churn(
    tx: pd.DataFrame,
    as_of: dt.date,
    horizon_days: int = 90,
    model: CLVModel | None = None,
    random_state: int | None = 0,
) -> dict[str, object]:
    """ROC AUC, PR AUC, calibration error and Brier score of LightGBM, BG/NBD and the RFM rule."""
    if horizon_days < 1:
        raise InputError(
            f"horizon_days must be at least 1, got {horizon_days}", field="horizon_days", value=horizon_days
        )
    test_end = as_of + dt.timedelta(days=horizon_days)
    train_date = as_of - dt.timedelta(days=horizon_days)
    data = check_transactions(tx, as_of=train_date, today=max(test_end, utcnow().date()))
    _check_window(tx, as_of, test_end, "as_of")

    history = History.of(tx)
    X_train, y_train = training_snapshots(history, train_date, horizon_days)
    X_test = behaviour_features(history, as_of)
    y_test = no_purchase_labels(history, X_test.index, as_of, horizon_days).to_numpy()
    results: dict[str, dict[str, float]] = {}
    timings: dict[str, float] = {}

    probs: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    clf = ChurnClassifier(random_state=random_state).fit(X_train, y_train)
    probs["lightgbm"] = clf.predict_proba(X_test)
    results["lightgbm"] = score(y_test, probs["lightgbm"])
    timings["lightgbm"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    model = model or CLVModel(spend_model=False, random_state=random_state)
    summary = rfm_summary(tx, as_of, model.time_unit_days)
    model.fit(summary)
    p_bg = pd.Series(
        model.probability_no_purchase(summary, horizon_days), index=summary["customer_id"].astype(str).to_numpy()
    ).reindex(X_test.index)
    probs["bgnbd"] = p_bg.to_numpy()
    results["bgnbd"] = score(y_test, probs["bgnbd"])
    timings["bgnbd"] = round(time.perf_counter() - started, 2)

    X_last = behaviour_features(history, train_date)
    y_last = no_purchase_labels(history, X_last.index, train_date, horizon_days)
    started = time.perf_counter()
    past = CLVModel(**{**model.get_params(), "spend_model": False})
    summary_past = rfm_summary(tx, train_date, past.time_unit_days)
    past.fit(summary_past)
    p_past = (
        pd.Series(
            past.probability_no_purchase(summary_past, horizon_days),
            index=summary_past["customer_id"].astype(str).to_numpy(),
        )
        .reindex(X_last.index)
        .to_numpy()
    )
    probs["bgnbd_calibrated"] = Recalibrator().fit(p_past, y_last.to_numpy()).predict(probs["bgnbd"])
    results["bgnbd_calibrated"] = score(y_test, probs["bgnbd_calibrated"])
    timings["bgnbd_calibrated"] = round(time.perf_counter() - started, 2)

    rfm_test = rfm_table(tx, as_of).set_index("customer_id").reindex(X_test.index)
    probs["rfm_rule"] = segment_rule_scores(rfm_test)
    results["rfm_rule"] = score(y_test, probs["rfm_rule"])
    rfm_train = rfm_table(tx, train_date).set_index("customer_id").reindex(X_last.index)
    cells = RFMRuleBaseline().fit(rfm_train, y_last)
    probs["rfm_cells"] = cells.predict_proba(rfm_test)
    results["rfm_cells"] = score(y_test, probs["rfm_cells"])

    outcome = y_test.astype(float)
    calibration = {
        name: {"bands": band_calibration(outcome, p), "reliability": reliability(outcome, p)}
        for name, p in probs.items()
    }
    best = max(("lightgbm", "bgnbd"), key=lambda name: results[name]["roc_auc"])
    # the model the profile refresh would use: BG/NBD is served recalibrated
    served = "bgnbd_calibrated" if best == "bgnbd" else best
    return {
        "data": data.as_dict(),
        "as_of": str(as_of),
        "horizon_days": horizon_days,
        "train_snapshot": str(train_date),
        "train_rows": len(X_train),
        "test_customers": len(X_test),
        "test_churn_rate": round(float(y_test.mean()), 4),
        "models": results,
        "best": best,
        "served": served,
        "calibration": calibration,
        "absolute_bands": band_calibration(outcome, probs[served], DEFAULT_BANDS),
        "roc_auc_gain_over_rfm_rule": round(results[best]["roc_auc"] - results["rfm_rule"]["roc_auc"], 4),
        "roc_auc_gain_over_rfm_cells": round(results[best]["roc_auc"] - results["rfm_cells"]["roc_auc"], 4),
        "bgnbd_params": {k: round(v, 4) for k, v in model.params_.items()},
        "seconds": timings,
    }
