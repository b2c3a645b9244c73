"""The offer response model: predicted purchase uplift of each offer arm, calibrated on held-out data.

One uplift learner per arm (channel x discount) against the common control, trained on randomised
history. Raw meta-learner scores rank well but their scale is optimistic where they are extreme
(the planner picks exactly those customers, a winner's curse), so each arm's scores are calibrated
on out-of-fold predictions of ``n_folds`` fold models (whose mean then scores new customers): the transformed outcome ``y x (t/e - (1-t)/(1-e))`` (whose mean given x
is the true uplift) is regressed on the out-of-fold score. The same out-of-fold pairs, resampled,
give the bootstrap intervals of every prediction the planner makes, and the covariance of each
calibration (intercept, slope) that the planner's decisions weigh: a customer's calibrated uplift
``a + b x score`` is only as sure as ``(a, b)`` is.

A discount arm is modelled as its channel's smallest offer (against the control) plus the
discount's own increment (the discount arm against that base arm), each part learned and
calibrated on its own contrast, so the decision "is a discount worth it" rests on an estimate of
exactly that difference.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import KFold

from marketloop.errors import InputError
from marketloop.strategy.history import CONTROL, parse_arm
from marketloop.strategy.uplift import fit_outcome, make_learner

#: Bootstrap draws behind each calibration's covariance (fixed, so decisions do not depend on the
#: number of draws the planner takes for its intervals).
COV_DRAWS = 200


def _calibrate(score: np.ndarray, ystar: np.ndarray) -> tuple[float, float]:
    var = float(np.var(score))
    slope = float(np.cov(score, ystar, bias=True)[0, 1] / var) if var > 1e-12 else 0.0
    slope = float(np.clip(slope, 0.0, 1.5))
    return float(np.mean(ystar) - slope * np.mean(score)), slope


class OfferResponseModel(BaseEstimator):
    """Per-arm calibrated uplift, the untreated purchase probability, and open / click rates."""

    def __init__(self, learner: str = "t_learner", n_folds: int = 3, random_state: int | None = 0) -> None:
        self.learner = learner
        self.n_folds = n_folds
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        arm: np.ndarray,
        y: np.ndarray,
        opened: np.ndarray | None = None,
        clicked: np.ndarray | None = None,
        reachable: dict[str, np.ndarray] | None = None,
    ) -> OfferResponseModel:
        """``reachable`` (channel -> per row, consent at the test's time): uplift is learned on the
        customers a message on that channel could reach, in both arms. A randomised test also sends to
        customers without consent (their message is never delivered, so their effect is zero); mixing
        them in would dilute the estimate for the only customers a plan ever contacts."""
        X = np.asarray(X, dtype=float)
        arm = np.asarray(arm, dtype=object)
        y = np.asarray(y, dtype=float)
        control = arm == CONTROL
        if control.sum() < 20:
            raise InputError(
                f"history: expected at least 20 held-out (control) customers, got {int(control.sum())}",
                field="history",
                hint="Uplift needs a randomised holdout; run an exploration round or a campaign with a holdout first.",
            )
        self.arms_ = sorted(a for a in set(arm.tolist()) if a != CONTROL)
        if not self.arms_:
            raise InputError("history: no treated customers next to the holdout", field="history")
        self.control_model_ = fit_outcome("binary", self.random_state, X[control], y[control])
        self.models_, self.calibration_, self.oof_, self.calibration_cov_ = {}, {}, {}, {}
        rng = np.random.default_rng(self.random_state)
        reach = {c: np.asarray(r, dtype=bool) for c, r in (reachable or {}).items()}
        self.components_: dict[str, list[str]] = {}
        for a in self.arms_:
            self._fit_contrast(a, X, y, control, arm == a, rng, reach.get(parse_arm(a)[0]))
        # A discount arm = the same channel's smallest offer + the discount's own increment, each learned
        # and calibrated on its own contrast (discount arm vs base arm): the increment decides whether a
        # discount pays, so it gets an honest, separately calibrated estimate.
        for a in self.arms_:
            base = self._base_arm(a)
            if base is None:
                self.components_[a] = [a]
                continue
            key = f"{a}|{base}"
            self._fit_contrast(key, X, y, arm == base, arm == a, rng, reach.get(parse_arm(a)[0]))
            self.components_[a] = [base, key]
        treated = ~control
        design = self._design(X[treated], arm[treated])
        self.open_model_ = self.click_model_ = None
        if opened is not None and np.asarray(opened)[treated].std() > 0:
            self.open_model_ = fit_outcome(
                "binary", self.random_state, design, np.asarray(opened, dtype=float)[treated]
            )
        if clicked is not None and np.asarray(clicked)[treated].std() > 0:
            self.click_model_ = fit_outcome(
                "binary", self.random_state, design, np.asarray(clicked, dtype=float)[treated]
            )
        self.n_features_in_ = X.shape[1]
        return self

    def _fit_contrast(
        self,
        key: str,
        X: np.ndarray,
        y: np.ndarray,
        reference: np.ndarray,
        treated: np.ndarray,
        rng: np.random.Generator,
        reach: np.ndarray | None,
    ) -> None:
        rows = reference | treated
        if reach is not None and min((rows & reach & treated).sum(), (rows & reach & reference).sum()) >= 20:
            rows &= reach
        Xa, ya, ta = X[rows], y[rows], treated[rows].astype(int)
        oof = np.zeros(len(ya))
        fold_models = []
        for train, test in KFold(self.n_folds, shuffle=True, random_state=self.random_state).split(Xa):
            fold_models.append(
                make_learner(self.learner, "binary", self.random_state).fit(Xa[train], ta[train], ya[train])
            )
            oof[test] = fold_models[-1].predict(Xa[test])
        e = float(ta.mean())
        ystar = ya * (ta / e - (1 - ta) / (1 - e))
        self.oof_[key] = (oof, ystar)
        self.calibration_[key] = _calibrate(oof, ystar)
        self.calibration_cov_[key] = np.cov(self.calibration_draws(key, COV_DRAWS, rng).T)
        # The fold models themselves score new customers (their mean), so the calibration fitted on their
        # out-of-fold scores applies to scores of the same spread; a refit on all rows would be sharper.
        self.models_[key] = fold_models

    def _base_arm(self, a: str) -> str | None:
        channel, discount = parse_arm(a)
        same = [b for b in self.arms_ if parse_arm(b)[0] == channel and parse_arm(b)[1] < discount]
        return min(same, key=lambda b: parse_arm(b)[1]) if same else None

    def components(self, X: np.ndarray, arm: str) -> list[tuple[str, np.ndarray]]:
        """(calibration key, raw score) pairs whose calibrated sum is the arm's uplift."""
        self._check_arm(arm)
        X = np.asarray(X, dtype=float)
        return [(key, np.mean([m.predict(X) for m in self.models_[key]], axis=0)) for key in self.components_[arm]]

    @staticmethod
    def _design(X: np.ndarray, arm: np.ndarray) -> np.ndarray:
        parsed = [parse_arm(a) for a in arm]
        channels = ("email", "sms", "push", "webhook")
        return np.column_stack(
            [X, [d for _, d in parsed], [channels.index(c) if c in channels else 0 for c, _ in parsed]]
        )

    def predict_control(self, X: np.ndarray) -> np.ndarray:
        return self.control_model_.predict_proba(np.asarray(X, dtype=float))[:, 1]

    def predict(self, X: np.ndarray, arm: str) -> np.ndarray:
        """Calibrated uplift (treated minus untreated purchase probability) of ``arm``."""
        total = np.zeros(len(X))
        for key, raw in self.components(X, arm):
            intercept, slope = self.calibration_[key]
            total += intercept + slope * raw
        return total

    def predicted_variance(self, key: str, raw: np.ndarray) -> np.ndarray:
        """Variance of the calibrated part ``a + b x raw`` of calibration ``key`` at each raw score."""
        (va, cab), (_, vb) = self.calibration_cov_[key]
        return np.maximum(va + 2 * cab * raw + vb * raw**2, 0.0)

    def predict_engagement(self, X: np.ndarray, arm: str) -> tuple[np.ndarray, np.ndarray]:
        """Predicted open and click probabilities of ``arm``'s message (zeros without engagement data)."""
        self._check_arm(arm)
        design = self._design(np.asarray(X, dtype=float), np.full(len(X), arm, dtype=object))
        opens = self.open_model_.predict_proba(design)[:, 1] if self.open_model_ is not None else np.zeros(len(X))
        clicks = self.click_model_.predict_proba(design)[:, 1] if self.click_model_ is not None else np.zeros(len(X))
        return opens, clicks

    def calibration_draws(self, key: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` bootstrap (intercept, slope) pairs for a calibration ``key``, resampling its out-of-fold rows."""
        oof, ystar = self.oof_[key]
        out = np.empty((n, 2))
        for b in range(n):
            idx = rng.integers(0, len(oof), len(oof))
            out[b] = _calibrate(oof[idx], ystar[idx])
        return out

    def _check_arm(self, arm: str) -> None:
        if arm not in self.arms_:
            raise InputError(
                f"arm: expected one of {', '.join(self.arms_)}, got {arm!r}",
                field="arm",
                value=arm,
                hint="The history has no randomised data for this offer; explore it first.",
            )
