"""Churn risk: the probability of no purchase in the next H days (the one definition of churn; H is the
profile's ``churn_horizon_days``, 90 by default).

Two models compete: the BG/NBD purchase model (``CLVModel.probability_no_purchase``, unsupervised)
and a LightGBM classifier on behavioural features (:mod:`features`) trained on an earlier snapshot
whose outcome is already known, with isotonic calibration on a held-out share of that snapshot.
:func:`select_model` validates both on the most recent fully observed snapshot and keeps the one with
the higher ROC AUC. A rule baseline from RFM cells is scored alongside, so every report says how much
the models add over the rules a marketer would use anyway.

Probabilities are calibrated to observed base rates: the classifier by isotonic regression on held-out
rows of its latest labelled snapshots, BG/NBD (when it wins) by an isotonic map from its validation-snapshot
probabilities to what happened (:class:`Recalibrator`). Bands are quantiles of the calibrated probability
(:data:`BAND_SHARES`: the riskiest 10 % are ``very_high``), each reported with the churn rate observed in it
on the latest labelled snapshot (:func:`band_calibration`), and :func:`reliability` gives the reliability
diagram.

Explanations are SHAP values of the tree model, computed by LightGBM itself (``pred_contrib=True``,
exact TreeSHAP) to avoid a second pass through the ``shap`` package.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketloop.customers.features import LABELS
from marketloop.errors import DependencyError, InputError

log = logging.getLogger(__name__)

#: Upper bounds of the low, medium and high bands on an absolute scale (used by :func:`risk_bands` when
#: thresholds are given explicitly).
DEFAULT_BANDS = (0.25, 0.5, 0.75)
BAND_NAMES = ("low", "medium", "high", "very_high")
#: Shares of customers per band, from the least to the most at risk: bands are quantiles of the calibrated
#: churn probability, so ``very_high`` is always the riskiest tenth, whatever the store's base rate (on a
#: store where nine in ten customers do not reorder within H days, absolute bands put everyone in one band).
BAND_SHARES = (0.4, 0.3, 0.2, 0.1)
#: Rows the classifier learns from at most (a random sample beyond it; the trees barely change).
MAX_TRAIN_ROWS = 200_000


def risk_bands(prob: np.ndarray, thresholds: tuple[float, ...] = DEFAULT_BANDS) -> np.ndarray:
    """Band names for probabilities: low < 0.25 <= medium < 0.5 <= high < 0.75 <= very_high."""
    if list(thresholds) != sorted(thresholds) or len(thresholds) != len(BAND_NAMES) - 1:
        raise InputError(
            f"risk band thresholds must be 3 increasing numbers, got {thresholds!r}", field="bands", value=thresholds
        )
    return np.asarray(BAND_NAMES, dtype=object)[np.searchsorted(np.asarray(thresholds), prob, side="right")]


def quantile_thresholds(prob: np.ndarray, shares: tuple[float, ...] = BAND_SHARES) -> tuple[float, float, float]:
    """The probabilities that cut ``prob`` into bands holding ``shares`` of the customers (low to very high).
    Ties stay together (a band can hold a little more or less than its share when many scores are equal)."""
    shares_ = np.asarray(shares, dtype=float)
    if len(shares_) != len(BAND_NAMES) or (shares_ <= 0).any() or not np.isclose(shares_.sum(), 1.0):
        raise InputError(
            f"band shares must be {len(BAND_NAMES)} positive numbers adding up to 1, got {shares!r}",
            field="band_shares",
            value=shares,
            hint="E.g. (0.4, 0.3, 0.2, 0.1): the riskiest tenth is very_high.",
        )
    values = np.asarray(prob, dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return (np.inf, np.inf, np.inf)
    cuts = np.quantile(values, np.cumsum(shares_)[:-1])
    return (float(cuts[0]), float(cuts[1]), float(cuts[2]))


def reliability(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """The reliability diagram: per equal-width bin of predicted probability, its customers, the mean
    prediction and the observed rate (empty bins are left out)."""
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    idx = np.clip((prob * bins).astype(int), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            rows.append(
                {
                    "low": round(b / bins, 4),
                    "high": round((b + 1) / bins, 4),
                    "customers": int(mask.sum()),
                    "mean_predicted": round(float(prob[mask].mean()), 4),
                    "observed_rate": round(float(y[mask].mean()), 4),
                }
            )
    return rows


def band_calibration(
    y: np.ndarray, prob: np.ndarray, thresholds: tuple[float, float, float] | None = None
) -> list[dict[str, object]]:
    """Per churn band (quantile bands of ``prob`` unless ``thresholds`` are given): its share of customers,
    probability range, mean prediction, observed churn rate, the calibration error inside the band
    (:func:`expected_calibration_error` over the band's customers), ``share_at_or_above`` (the share of
    customers in this band or a riskier one) and ``justified_share``: the share of all customers whose
    reliability bin (20 bins of equal size) has an observed churn rate at least the band's lower bound. A
    calibrated model puts about the justified share at or above each bound; one that overstates risk puts
    far more customers there (all of them, on a store where everyone looks "very high")."""
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    cuts = thresholds if thresholds is not None else quantile_thresholds(prob)
    bands = risk_bands(prob, cuts)
    # observed churn rate of each customer's equal-count bin of predicted probability
    order = np.argsort(prob, kind="stable")
    bin_of = np.empty(len(prob), dtype=int)
    bin_of[order] = np.arange(len(prob)) * 20 // max(len(prob), 1)
    observed_bin = pd.Series(y).groupby(bin_of).transform("mean").to_numpy()
    lows = (0.0, *cuts)
    highs = (*cuts, 1.0)
    rows = []
    for name, low, high in zip(BAND_NAMES, lows, highs, strict=True):
        mask = bands == name
        n = int(mask.sum())
        rows.append(
            {
                "band": name,
                "customers": n,
                "share": round(n / max(len(y), 1), 4),
                "share_at_or_above": round(float((prob >= low).mean()) if name != "low" else 1.0, 4),
                "probability_from": round(float(low), 4),
                "probability_to": round(float(min(high, 1.0)), 4),
                "mean_predicted": round(float(prob[mask].mean()), 4) if n else None,
                "observed_rate": round(float(y[mask].mean()), 4) if n else None,
                "ece": round(expected_calibration_error(y[mask], prob[mask]), 4) if n else None,
                "justified_share": round(float((observed_bin >= low).mean()), 4) if len(y) else None,
            }
        )
    return rows


class Recalibrator:
    """Maps a model's probabilities to observed rates (Platt scaling on the log-odds): a logistic regression of
    the outcome on ``logit(prob)``, fitted on a labelled snapshot (``fit(prob, y)``) and applied to later
    scores (``predict(prob)``). Two parameters, monotone, and never exactly 0 or 1: isotonic regression on a
    few thousand customers made steps that put four in ten customers at a churn risk of exactly 100 %."""

    def fit(self, prob: np.ndarray, y: np.ndarray) -> Recalibrator:
        from sklearn.linear_model import LogisticRegression

        x = self._logit(prob)
        keep = ~np.isnan(x)
        y = np.asarray(y, dtype=int)[keep]
        if len(np.unique(y)) < 2:
            raise InputError(
                "recalibration needs both outcomes on the labelled snapshot",
                field="labels",
                value=int(y.mean()) if len(y) else None,
                hint="Use a longer history or another horizon.",
            )
        self.model_ = LogisticRegression(C=1e6).fit(x[keep].reshape(-1, 1), y)
        return self

    @staticmethod
    def _logit(prob: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(prob, dtype=float), 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))

    def predict(self, prob: np.ndarray) -> np.ndarray:
        x = self._logit(prob)
        filled = np.where(np.isnan(x), np.nanmean(x) if np.isfinite(x).any() else 0.0, x)
        return self.model_.predict_proba(filled.reshape(-1, 1))[:, 1]


def _lightgbm():  # noqa: ANN202 - returns the lightgbm module, imported lazily
    try:
        import lightgbm
    except ImportError:  # pragma: no cover
        raise DependencyError("Churn models need LightGBM", hint="pip install 'marketloop[ml]'") from None
    return lightgbm


class ChurnClassifier:
    """Calibrated LightGBM classifier of a binary horizon outcome (scikit-learn conventions).

    ``fit(X, y)`` trains on ``1 - calibration_fraction`` of the rows and fits an isotonic map from raw
    scores to probabilities on the rest. ``predict_proba(X)`` returns P(y = 1) (one column).
    """

    def __init__(
        self,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 4,
        min_child_samples: int = 50,
        calibration_fraction: float = 0.25,
        max_train_rows: int = MAX_TRAIN_ROWS,
        n_jobs: int = 1,
        random_state: int | None = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration_fraction = calibration_fraction
        self.max_train_rows = max_train_rows
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> ChurnClassifier:
        from sklearn.isotonic import IsotonicRegression

        y = np.asarray(y, dtype=int)
        if len(X) != len(y):
            raise InputError(f"X has {len(X)} rows but y has {len(y)}", field="y", value=len(y))
        counts = np.bincount(y, minlength=2)
        if counts.min() < 10:
            raise InputError(
                f"the classifier needs at least 10 examples of each outcome, got {counts.tolist()}",
                field="y",
                value=counts.tolist(),
                hint="Use a longer history or a different horizon.",
            )
        lgb = _lightgbm()
        rng = np.random.default_rng(self.random_state)
        if len(X) > self.max_train_rows:  # a random sample learns the same trees at a fraction of the time
            keep = np.sort(rng.choice(len(X), self.max_train_rows, replace=False))
            X, y = X.iloc[keep], y[keep]
        calib = rng.random(len(X)) < self.calibration_fraction
        if np.bincount(y[calib], minlength=2).min() == 0 or np.bincount(y[~calib], minlength=2).min() == 0:
            calib = np.zeros(len(X), dtype=bool)
            calib[rng.permutation(len(X))[: max(1, int(len(X) * self.calibration_fraction))]] = True
        self.feature_names_ = list(X.columns)
        self.model_ = lgb.LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.9,
            random_state=self.random_state,
            n_jobs=self.n_jobs,  # one thread is fastest for the small tables of one store
            verbose=-1,
        )
        self.model_.fit(X[~calib], y[~calib])
        self.thresholds_ = None  # the split thresholds of this model, read on first use (_split_pattern)
        raw = self._raw(X[calib])
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y[calib])
        return self

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # feature-name notes from scikit-learn
            return self.model_.predict_proba(X[self.feature_names_])[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated P(y = 1), with a tiny monotone tie-break so that rankings survive isotonic steps."""
        raw = self._raw(X)
        return np.clip(self.calibrator_.predict(raw) + 1e-6 * (raw - 0.5), 0.0, 1.0)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """SHAP values in log-odds (rows x features), without the bias column.

        Exact TreeSHAP reads a row only through which side of each split threshold each feature falls
        on, so rows with the same pattern have the same values: they are computed once per pattern
        (on a million customers, a third to a fifth of the rows) and copied to the rest."""
        A = X[self.feature_names_].to_numpy(dtype=float)
        _, first, inverse = np.unique(self._split_pattern(A), axis=0, return_index=True, return_inverse=True)
        unique_rows = self.model_.booster_.predict(A[first], pred_contrib=True, num_threads=2)[:, :-1]
        return unique_rows[inverse.reshape(-1)]

    def _split_pattern(self, A: np.ndarray) -> np.ndarray:
        """Per row and feature, how many of the model's thresholds on that feature lie below the value
        (-1 for a missing value). LightGBM sends a value left when it is <= the threshold, so two values
        with the same count fall on the same side of every split."""
        thresholds = self.thresholds_
        if thresholds is None:
            found: list[set[float]] = [set() for _ in self.feature_names_]
            stack = [tree["tree_structure"] for tree in self.model_.booster_.dump_model()["tree_info"]]
            while stack:
                node = stack.pop()
                if "split_feature" in node:
                    if node["decision_type"] != "<=":  # a categorical split: no threshold order to use
                        found[node["split_feature"]].add(np.nan)
                    else:
                        found[node["split_feature"]].add(float(node["threshold"]))
                    stack += [node["left_child"], node["right_child"]]
            thresholds = self.thresholds_ = [np.array(sorted(t)) for t in found]
        pattern = np.empty(A.shape, dtype=np.int32)
        for j, cuts in enumerate(thresholds):
            if np.isnan(cuts).any():  # categorical: the value itself is the pattern
                pattern[:, j] = np.unique(A[:, j], return_inverse=True)[1].reshape(-1)
            else:
                pattern[:, j] = np.where(np.isnan(A[:, j]), -1, np.searchsorted(cuts, A[:, j], side="left"))
        return pattern


def top_reasons(X: pd.DataFrame, contributions: np.ndarray, top: int = 3, sign: float = 1.0) -> list[str]:
    """JSON text per row: the ``top`` features pushing the score up (``sign=-1``: down), with values,
    e.g. ``[{"feature": "recency_days", "label": "days since last order", "value": 212.0, "shap": 0.81}]``.

    Built with string formatting over arrays rather than ``json.dumps`` per row (millions of rows);
    feature names and labels are JSON-encoded once.
    """
    signed = contributions * sign
    order = np.argsort(-signed, axis=1)[:, :top]
    rows = np.arange(len(X))[:, None]
    values = X.to_numpy(dtype=float)[rows, order]
    shap_values = signed[rows, order]
    heads = [f'{{"feature": {json.dumps(n)}, "label": {json.dumps(LABELS.get(n, n))}, "value": ' for n in X.columns]
    items = []
    for k in range(order.shape[1]):
        head = np.asarray(heads, dtype=object)[order[:, k]]
        value = np.where(np.isnan(values[:, k]), "null", np.char.mod("%.2f", np.nan_to_num(values[:, k])))
        text = head + value.astype(object) + ', "shap": ' + np.char.mod("%.3f", shap_values[:, k]).astype(object) + "}"
        items.append(np.where(shap_values[:, k] > 0, text, None))
    return (
        ["[" + ", ".join(t for t in row if t is not None) + "]" for row in zip(*items, strict=True)]
        if items
        else ["[]"] * len(X)
    )


def segment_rule_scores(rfm: pd.DataFrame) -> np.ndarray:
    """The fixed rule a marketer would use: each named RFM segment's risk level (``SEGMENT_RISK``)."""
    from marketloop.customers.rfm import SEGMENT_RISK

    return rfm["segment"].map(SEGMENT_RISK).fillna(0.5).to_numpy(dtype=float)


class RFMRuleBaseline:
    """A stronger rule baseline: the churn rate of the customer's (R score, FM score) cell, learned on a
    past snapshot and smoothed towards the overall rate (``prior_weight`` pseudo-customers)."""

    def __init__(self, prior_weight: float = 10.0) -> None:
        self.prior_weight = prior_weight

    def fit(self, rfm: pd.DataFrame, y: np.ndarray | pd.Series) -> RFMRuleBaseline:
        y = np.asarray(y, dtype=float)
        frame = pd.DataFrame({"r": rfm["r_score"].to_numpy(), "fm": rfm["fm_score"].to_numpy(), "y": y})
        self.overall_ = float(y.mean())
        cells = frame.groupby(["r", "fm"])["y"].agg(["sum", "size"])
        self.rates_ = (
            (cells["sum"] + self.prior_weight * self.overall_) / (cells["size"] + self.prior_weight)
        ).to_dict()
        return self

    def predict_proba(self, rfm: pd.DataFrame) -> np.ndarray:
        keys = zip(rfm["r_score"].to_numpy(), rfm["fm_score"].to_numpy(), strict=True)
        return np.array([self.rates_.get(k, self.overall_) for k in keys], dtype=float)


def expected_calibration_error(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean prediction| over equal-width probability bins, weighted by bin size."""
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    idx = np.clip((prob * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - prob[mask].mean())
    return float(total / len(y))


def score(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision), expected calibration error and Brier score."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        raise InputError(
            "the evaluation snapshot has only one outcome (everyone churned or everyone bought)",
            field="labels",
            value=int(y.mean()) if len(y) else None,
            hint="Choose another --as-of date or horizon.",
        )
    return {
        "roc_auc": round(float(roc_auc_score(y, prob)), 4),
        "pr_auc": round(float(average_precision_score(y, prob)), 4),
        "ece": round(expected_calibration_error(y, prob), 4),
        "brier": round(float(brier_score_loss(y, np.clip(prob, 0, 1))), 4),
    }


@dataclass
class Selection:
    """Outcome of validating the candidate models for one horizon."""

    horizon_days: int
    winner: str
    validation: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the winner's calibration on the validation snapshot: ``bands`` (:func:`band_calibration`) and
    #: ``reliability`` (:func:`reliability`); empty when there was nothing to validate on
    calibration: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "horizon_days": self.horizon_days,
            "winner": self.winner,
            "validation": self.validation,
            "notes": self.notes,
            "calibration": self.calibration,
        }
