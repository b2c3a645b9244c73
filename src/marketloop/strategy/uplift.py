"""Uplift (conditional average treatment effect) meta-learners on LightGBM.

causalml is not a dependency (it pins old libraries and needs a C toolchain); these three learners
are short, follow scikit-learn conventions, and share one protocol:
``fit(X, treatment, y) -> self`` and ``predict(X) -> uplift`` (treated minus control outcome).

- :class:`TLearner`: one outcome model per arm; uplift = mu1(x) - mu0(x).
- :class:`XLearner` (Kuenzel et al. 2019): imputed effects from the other arm's model, regressed on
  x in each arm, blended by the propensity.
- :class:`DRLearner` (Kennedy 2020): cross-fitted doubly-robust pseudo-outcomes regressed on x.

Treatment is 0/1 (randomised or with a known / estimated propensity); the outcome is binary
(classifier outcome models) or continuous (regressors), chosen by ``outcome``.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold

from marketloop.errors import InputError

Outcome = Literal["binary", "continuous"]


class UpliftModel(Protocol):
    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> UpliftModel: ...
    def predict(self, X: np.ndarray) -> np.ndarray: ...


def _lgbm_params(random_state: int | None) -> dict:
    # Small, regularised trees: uplift signals are a fraction of a point, so deep trees only fit noise.
    return dict(
        n_estimators=150,
        learning_rate=0.04,
        num_leaves=15,
        min_child_samples=200,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=5.0,
        random_state=random_state,
        verbose=-1,
        n_jobs=1,
    )


def outcome_model(outcome: Outcome, random_state: int | None):  # noqa: ANN201
    from lightgbm import LGBMClassifier, LGBMRegressor

    return (
        LGBMClassifier(**_lgbm_params(random_state))
        if outcome == "binary"
        else LGBMRegressor(**_lgbm_params(random_state))
    )


class ConstantOutcome:
    """Stands in for an outcome model when a training subset has one outcome value only (tiny tests)."""

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([np.full(len(X), 1 - self.value), np.full(len(X), self.value)])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.value)


def fit_outcome(outcome: Outcome, random_state: int | None, X: np.ndarray, y: np.ndarray):  # noqa: ANN201
    """A fitted outcome model; a constant where ``y`` does not vary (LightGBM needs two classes)."""
    if len(y) == 0 or np.min(y) == np.max(y):
        return ConstantOutcome(float(y[0]) if len(y) else 0.0)
    return clone(outcome_model(outcome, random_state)).fit(X, y)


def effect_model(random_state: int | None):  # noqa: ANN201
    from lightgbm import LGBMRegressor

    return LGBMRegressor(**_lgbm_params(random_state))


def _predict_outcome(model, X: np.ndarray) -> np.ndarray:  # noqa: ANN001
    return model.predict_proba(X)[:, 1] if hasattr(model, "predict_proba") else model.predict(X)


def check_uplift_data(
    X: np.ndarray, treatment: np.ndarray, y: np.ndarray, outcome: Outcome
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    t = np.asarray(treatment)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or len(X) != len(t) or len(t) != len(y):
        raise InputError(
            f"X, treatment, y: expected a 2-d X and arrays of the same length, got shapes {X.shape}, {t.shape}, {y.shape}",
            field="X",
            hint="Pass one row per customer.",
        )
    if not np.isin(t, (0, 1)).all():
        raise InputError(
            "treatment: expected 0 (control) or 1 (treated) for every row",
            field="treatment",
            value=sorted(set(np.unique(t).tolist()))[:5],
            hint="Encode the arm you compare as 1 and the control as 0.",
        )
    t = t.astype(int)
    if min(int(t.sum()), int((1 - t).sum())) < 20:
        raise InputError(
            f"treatment: expected at least 20 treated and 20 control rows, got {int(t.sum())} and {int((1 - t).sum())}",
            field="treatment",
            hint="Uplift needs randomised data with both arms: run a test with a holdout first.",
        )
    if outcome == "binary" and not np.isin(y, (0.0, 1.0)).all():
        raise InputError(
            "y: expected a 0/1 outcome for outcome='binary'", field="y", hint="Use outcome='continuous' for money."
        )
    if outcome not in ("binary", "continuous"):
        raise InputError(f"outcome: expected 'binary' or 'continuous', got {outcome!r}", field="outcome", value=outcome)
    return X, t, y


class TLearner(BaseEstimator):
    name = "t_learner"

    def __init__(self, outcome: Outcome = "binary", random_state: int | None = 0) -> None:
        self.outcome = outcome
        self.random_state = random_state

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> TLearner:
        X, t, y = check_uplift_data(X, treatment, y, self.outcome)
        self.model_control_ = fit_outcome(self.outcome, self.random_state, X[t == 0], y[t == 0])
        self.model_treated_ = fit_outcome(self.outcome, self.random_state, X[t == 1], y[t == 1])
        self.n_features_in_ = X.shape[1]
        return self

    def predict_control(self, X: np.ndarray) -> np.ndarray:
        return _predict_outcome(self.model_control_, np.asarray(X, dtype=float))

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return _predict_outcome(self.model_treated_, X) - _predict_outcome(self.model_control_, X)


class XLearner(BaseEstimator):
    name = "x_learner"

    def __init__(self, outcome: Outcome = "binary", random_state: int | None = 0) -> None:
        self.outcome = outcome
        self.random_state = random_state

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> XLearner:
        X, t, y = check_uplift_data(X, treatment, y, self.outcome)
        base = TLearner(self.outcome, self.random_state).fit(X, t, y)
        self.base_ = base
        d1 = y[t == 1] - _predict_outcome(base.model_control_, X[t == 1])
        d0 = _predict_outcome(base.model_treated_, X[t == 0]) - y[t == 0]
        self.effect_treated_ = clone(effect_model(self.random_state)).fit(X[t == 1], d1)
        self.effect_control_ = clone(effect_model(self.random_state)).fit(X[t == 0], d0)
        self.propensity_ = float(t.mean())  # randomised data: the share treated
        self.n_features_in_ = X.shape[1]
        return self

    def predict_control(self, X: np.ndarray) -> np.ndarray:
        return self.base_.predict_control(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        e = self.propensity_
        return e * self.effect_control_.predict(X) + (1 - e) * self.effect_treated_.predict(X)


class DRLearner(BaseEstimator):
    name = "dr_learner"

    def __init__(self, outcome: Outcome = "binary", n_folds: int = 2, random_state: int | None = 0) -> None:
        self.outcome = outcome
        self.n_folds = n_folds
        self.random_state = random_state

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> DRLearner:
        X, t, y = check_uplift_data(X, treatment, y, self.outcome)
        if not isinstance(self.n_folds, int) or self.n_folds < 2:
            raise InputError(
                f"n_folds: expected an integer >= 2, got {self.n_folds!r}", field="n_folds", value=self.n_folds
            )
        pseudo = np.zeros(len(y))
        folds = KFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(X):
            nuisance = TLearner(self.outcome, self.random_state).fit(X[train], t[train], y[train])
            e = float(np.clip(t[train].mean(), 0.01, 0.99))  # randomised: a constant propensity
            mu0 = _predict_outcome(nuisance.model_control_, X[test])
            mu1 = _predict_outcome(nuisance.model_treated_, X[test])
            tt, yy = t[test], y[test]
            pseudo[test] = mu1 - mu0 + tt * (yy - mu1) / e - (1 - tt) * (yy - mu0) / (1 - e)
        self.effect_ = clone(effect_model(self.random_state)).fit(X, pseudo)
        self.base_ = TLearner(self.outcome, self.random_state).fit(X, t, y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict_control(self, X: np.ndarray) -> np.ndarray:
        return self.base_.predict_control(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.effect_.predict(np.asarray(X, dtype=float))


LEARNERS: dict[str, type] = {"t_learner": TLearner, "x_learner": XLearner, "dr_learner": DRLearner}


def make_learner(name: str, outcome: Outcome = "binary", random_state: int | None = 0):  # noqa: ANN201
    if name not in LEARNERS:
        raise InputError(
            f"learner: expected one of {', '.join(LEARNERS)}, got {name!r}",
            field="learner",
            value=name,
            hint="t_learner is the most robust default on small randomised tests.",
        )
    return LEARNERS[name](outcome=outcome, random_state=random_state)
