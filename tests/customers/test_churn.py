"""Churn classifier, calibration metric, bands and the rule baseline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from marketloop.customers.churn import (
    ChurnClassifier,
    RFMRuleBaseline,
    expected_calibration_error,
    risk_bands,
    score,
    top_reasons,
)
from marketloop.errors import InputError


def test_risk_bands():
    assert risk_bands(np.array([0.0, 0.25, 0.49, 0.5, 0.8, 1.0])).tolist() == ["low", "medium", "medium", "high", "very_high", "very_high"]
    with pytest.raises(InputError, match="3 increasing numbers"):
        risk_bands(np.array([0.1]), (0.5, 0.2, 0.9))


def test_ece_known_answer():
    y = np.array([1, 0, 1, 0])
    assert expected_calibration_error(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(0.5)


def test_score_needs_both_outcomes():
    with pytest.raises(InputError, match="only one outcome"):
        score(np.ones(5), np.full(5, 0.5))


def test_classifier_learns_and_calibrates():
    rng = np.random.default_rng(42)
    n = 3000
    X = pd.DataFrame({"recency_days": rng.uniform(0, 300, n), "noise": rng.normal(size=n)})
    p_true = 1 / (1 + np.exp(-(X["recency_days"] - 150) / 30))
    y = rng.random(n) < p_true
    clf = ChurnClassifier(random_state=0).fit(X[:2000], y[:2000])
    prob = clf.predict_proba(X[2000:])
    metrics = score(y[2000:], prob)
    assert metrics["roc_auc"] > 0.85
    assert metrics["ece"] < 0.06
    reasons = top_reasons(X[2000:2005], clf.contributions(X[2000:2005]))
    first = json.loads(reasons[int(np.argmax(X["recency_days"][2000:2005]))])
    assert first[0]["feature"] == "recency_days" and first[0]["shap"] > 0


def test_classifier_refuses_one_sided_labels():
    X = pd.DataFrame({"a": np.arange(100.0)})
    with pytest.raises(InputError, match="at least 10 examples of each outcome"):
        ChurnClassifier().fit(X, np.r_[np.ones(95), np.zeros(5)])


def test_rule_baseline_uses_cell_rates():
    rfm = pd.DataFrame({"r_score": [1, 1, 5, 5], "fm_score": [1, 1, 5, 5]})
    rule = RFMRuleBaseline(prior_weight=0).fit(rfm, [1, 1, 0, 0])
    assert rule.predict_proba(pd.DataFrame({"r_score": [1, 5, 3], "fm_score": [1, 5, 3]})).tolist() == [1.0, 0.0, 0.5]


def test_reasons_are_valid_json_with_missing_values():
    X = pd.DataFrame({"recency_days": [10.0, np.nan], "orders": [3.0, 1.0]})
    contributions = np.array([[0.5, -0.2], [0.0, 0.3]])
    docs = [json.loads(text) for text in top_reasons(X, contributions)]
    assert [r["feature"] for r in docs[0]] == ["recency_days"]
    assert docs[1] == [{"feature": "orders", "label": "orders", "value": 1.0, "shap": 0.3}]
    assert json.loads(top_reasons(X, contributions, sign=-1.0)[0])[0]["feature"] == "orders"
