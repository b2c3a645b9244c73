"""Scoring an outcome over a horizon (churn in 90 days, a purchase in 30) with model selection.

Time-based validation: the classifier learns on snapshots ending at ``as_of - 2H`` (outcome observed in the
next H days), both candidates are scored on the snapshot ``as_of - H`` (outcome observed up to
``as_of``), and the one with the higher ROC AUC scores today's customers. A winning classifier is
refitted on the snapshots ending at the validation snapshot, the most recent one whose outcome is known. When the history is
too short for the classifier (fewer than ``min_examples`` of either outcome), BG/NBD is used and the
selection says why.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketloop.customers.churn import (
    MAX_TRAIN_ROWS,
    ChurnClassifier,
    Recalibrator,
    Selection,
    band_calibration,
    reliability,
    score,
    top_reasons,
)
from marketloop.customers.clv import CLVModel
from marketloop.customers.features import History, behaviour_features, no_purchase_labels, training_snapshots
from marketloop.customers.transactions import rfm_summary
from marketloop.errors import InputError

log = logging.getLogger(__name__)


SNAPSHOTS = 3  # stacked training snapshots per fit (features.training_snapshots)


def _training_history(history: History, n_customers: int, random_state: int | None, cap: int | None = None) -> History:
    """The history of a random share of the customers, large enough for the classifier's row cap.

    The classifier learns on at most ``max_train_rows`` snapshot rows (a random sample); on a large
    store, computing the stacked snapshots of every customer first would be work thrown away (on a
    million customers, tens of seconds per horizon). Validation and today's scores still use everyone.
    """
    cap = cap or MAX_TRAIN_ROWS
    share = 1.5 * cap / max(1, SNAPSHOTS * n_customers)  # headroom: not every customer is in every snapshot
    if share >= 1:
        return history
    ids = history.daily["customer_id"].astype("category")
    rng = np.random.default_rng(random_state)
    keep = rng.random(len(ids.cat.categories)) < share
    chosen = set(ids.cat.categories[keep].astype(str))
    returns = history.returns
    return History(
        history.daily[keep[ids.cat.codes.to_numpy()]], returns[returns["customer_id"].astype(str).isin(chosen)]
    )


@dataclass
class HorizonScores:
    """Today's probabilities (index: customer_id), the explanation JSON per customer and the selection."""

    probability: pd.Series
    reasons: pd.Series
    selection: Selection


def score_horizon(
    tx: pd.DataFrame,
    as_of: dt.date,
    horizon_days: int,
    clv_now: CLVModel,
    summary_now: pd.DataFrame,
    *,
    event: str = "churn",
    make_clv: Callable[[], CLVModel] | None = None,
    min_examples: int = 20,
    random_state: int | None = 0,
) -> HorizonScores:
    """P(no purchase in H) for ``event="churn"``, P(at least one purchase in H) for ``"purchase"``."""
    _check_event(event)
    history = History.of(tx)
    X_now = behaviour_features(history, as_of)
    sample = _training_history(history, len(X_now), random_state)
    inputs = horizon_inputs(history, sample, as_of, horizon_days, clv_now.time_unit_days)
    model = fit_horizon(
        inputs, clv_now, event=event, make_clv=make_clv, min_examples=min_examples, random_state=random_state
    )
    return model.score(X_now, summary_now)


def _check_event(event: str) -> None:
    if event not in ("churn", "purchase"):
        raise InputError(f"event must be churn or purchase, got {event!r}", field="event", value=event)


@dataclass
class HorizonInputs:
    """What a horizon model learns and is validated from: the stacked training snapshots ending at
    ``train_date`` (``as_of - 2H``) and at ``valid_date`` (``as_of - H``), from a sample of the customers,
    and everyone's features, no-purchase labels and RFM summary at ``valid_date``. The profile pass builds
    them from one in-memory history; a distributed engine builds the same frames partition by partition."""

    horizon_days: int
    train_date: dt.date
    valid_date: dt.date
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_final: pd.DataFrame
    y_final: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    summary_valid: pd.DataFrame


def horizon_inputs(
    history: History, sample: History, as_of: dt.date, horizon_days: int, time_unit_days: float
) -> HorizonInputs:
    """:class:`HorizonInputs` from the full ``history`` (validation) and ``sample`` (training snapshots)."""
    valid_date = as_of - dt.timedelta(days=horizon_days)
    train_date = as_of - dt.timedelta(days=2 * horizon_days)
    X_train, y_train = training_snapshots(sample, train_date, horizon_days, count=SNAPSHOTS)
    X_valid = behaviour_features(history, valid_date)
    y_valid = no_purchase_labels(history, X_valid.index, valid_date, horizon_days).to_numpy()
    X_final, y_final = training_snapshots(sample, valid_date, horizon_days, count=SNAPSHOTS)
    summary_valid = rfm_summary(history, valid_date, time_unit_days)
    return HorizonInputs(
        horizon_days, train_date, valid_date, X_train, y_train, X_final, y_final, X_valid, y_valid, summary_valid
    )


@dataclass
class HorizonModel:
    """A fitted horizon model; it scores any set of customers, so it can run one partition at a time."""

    horizon_days: int
    flip: bool
    clv_now: CLVModel
    selection: Selection
    final: ChurnClassifier | None = None
    #: maps BG/NBD's probabilities to the rates observed on the validation snapshot (when BG/NBD wins)
    recal: Recalibrator | None = None

    def score(self, X_now: pd.DataFrame, summary_now: pd.DataFrame) -> HorizonScores:
        """Today's probabilities and reasons for the customers of ``X_now`` (features at ``as_of``)."""
        ids = summary_now["customer_id"].astype(str)
        bg_now = pd.Series(self.clv_now.probability_no_purchase(summary_now, self.horizon_days), index=ids.to_numpy())
        bg_now = bg_now.reindex(X_now.index)
        if self.flip:
            bg_now = 1 - bg_now
        if self.final is None:
            return HorizonScores(bg_now, pd.Series("[]", index=X_now.index), self.selection)
        reasons = pd.Series(top_reasons(X_now, self.final.contributions(X_now), sign=1.0), index=X_now.index)
        if self.selection.winner == "lightgbm":
            return HorizonScores(pd.Series(self.final.predict_proba(X_now), index=X_now.index), reasons, self.selection)
        if self.recal is not None:
            bg_now = pd.Series(self.recal.predict(bg_now.to_numpy()), index=bg_now.index)
        return HorizonScores(bg_now, reasons, self.selection)


def fit_horizon(
    inputs: HorizonInputs,
    clv_now: CLVModel,
    *,
    event: str = "churn",
    make_clv: Callable[[], CLVModel] | None = None,
    min_examples: int = 20,
    random_state: int | None = 0,
) -> HorizonModel:
    """Validate the classifier against BG/NBD on ``inputs`` and fit the final model (module docstring)."""
    _check_event(event)
    flip = event == "purchase"
    horizon_days = inputs.horizon_days
    selection = Selection(horizon_days=horizon_days, winner="bgnbd")
    model = HorizonModel(horizon_days, flip, clv_now, selection)
    y_train, y_valid, y_final = inputs.y_train, inputs.y_valid, inputs.y_final
    if flip:
        y_train, y_valid, y_final = ~y_train, ~y_valid, ~y_final
    counts = [int(np.bincount(y.astype(int), minlength=2).min()) if len(y) else 0 for y in (y_train, y_valid)]
    if min(counts) < min_examples:
        selection.notes.append(
            f"history before {inputs.train_date} is too short for the classifier (fewest examples of one outcome: "
            f"{min(counts)} < {min_examples}); BG/NBD is used"
        )
        return model

    clf = ChurnClassifier(random_state=random_state).fit(inputs.X_train, y_train)
    p_clf = clf.predict_proba(inputs.X_valid)
    selection.validation["lightgbm"] = score(y_valid, p_clf)
    p_bg = None
    try:
        summary_valid = inputs.summary_valid
        bg_model = make_clv() if make_clv else CLVModel(**clv_now.get_params())
        bg_model.spend_model = False  # only purchase counts matter here
        bg_model.fit(summary_valid)
        p_bg = pd.Series(
            bg_model.probability_no_purchase(summary_valid, horizon_days),
            index=summary_valid["customer_id"].astype(str).to_numpy(),
        ).reindex(inputs.X_valid.index)
        if flip:
            p_bg = 1 - p_bg
        selection.validation["bgnbd"] = score(y_valid, p_bg.fillna(p_bg.mean()).to_numpy())
    except InputError as exc:
        selection.notes.append(f"BG/NBD could not be validated: {exc.message}")
    auc_clf = selection.validation["lightgbm"]["roc_auc"]
    auc_bg = selection.validation.get("bgnbd", {}).get("roc_auc", -1.0)

    model.final = ChurnClassifier(random_state=random_state).fit(inputs.X_final, y_final)
    if auc_clf > auc_bg:
        selection.winner = "lightgbm"
    else:
        # BG/NBD ranks well but its probabilities drift from observed rates: map them to what happened on
        # the validation snapshot (outcome known by as_of) before using them
        if p_bg is None:  # auc_bg > auc_clf implies it was scored
            raise RuntimeError("BG/NBD won the validation without being scored")
        valid_raw = p_bg.fillna(p_bg.mean()).to_numpy()
        model.recal = Recalibrator().fit(valid_raw, y_valid)
        valid_prob = model.recal.predict(valid_raw)
        selection.validation["bgnbd_calibrated"] = score(y_valid, valid_prob)
        selection.notes.append(
            "BG/NBD probabilities are recalibrated to the churn rates observed on the validation snapshot; "
            "reasons come from the LightGBM model"
        )
    if selection.winner == "lightgbm":
        valid_prob = p_clf
    outcome = y_valid.astype(float)
    selection.calibration = {
        "snapshot": str(inputs.valid_date),
        "observed_rate": round(float(outcome.mean()), 4),
        "bands": band_calibration(outcome, valid_prob) if not flip else [],
        "reliability": reliability(outcome, valid_prob),
    }
    log.info("%s in %d days: %s wins (%s)", event, horizon_days, selection.winner, selection.validation)
    return model
