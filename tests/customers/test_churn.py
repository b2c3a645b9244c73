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
    assert risk_bands(np.array([0.0, 0.25, 0.49, 0.5, 0.8, 1.0])).tolist() == [
        "low",
        "medium",
        "medium",
        "high",
        "very_high",
        "very_high",
    ]
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


def test_contributions_computed_once_per_split_pattern_equal_direct_treeshap():
    """Rows are grouped by their side of every split; the values must equal LightGBM's own, row by row,
    including values exactly at a threshold, one step either side of it, and missing values."""
    rng = np.random.default_rng(3)
    n = 4000
    X = pd.DataFrame(
        {
            "recency_days": rng.integers(0, 400, n).astype(float),
            "spend": rng.gamma(2.0, 40.0, n).round(2),
            "gap": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(5, 90, n)),
        }
    )
    y = rng.random(n) < 1 / (1 + np.exp(-(X["recency_days"] - 200) / 40 + 0.002 * X["spend"]))
    clf = ChurnClassifier(random_state=0).fit(X, y)
    clf._split_pattern(X.to_numpy())  # reads the thresholds
    edges = []
    for j, cuts in enumerate(clf.thresholds_):
        for t in cuts[:20]:
            for v in (t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)):
                row = X.iloc[int(rng.integers(n))].to_numpy().copy()
                row[j] = v
                edges.append(row)
    probe = pd.concat([X, pd.DataFrame(edges, columns=X.columns)], ignore_index=True)
    direct = clf.model_.booster_.predict(probe.to_numpy(), pred_contrib=True)[:, :-1]
    assert len(np.unique(clf._split_pattern(probe.to_numpy()), axis=0)) < len(probe)  # rows were grouped
    np.testing.assert_array_equal(clf.contributions(probe), direct)


def test_training_history_keeps_whole_customers_of_a_random_share():
    """On a large store the horizon models compute training snapshots for a random share of customers
    (enough for the classifier's row cap) with each chosen customer's whole history; small stores keep all."""
    from marketloop.customers import horizon
    from marketloop.customers.features import History

    from .conftest import synthetic_orders

    orders, _, _ = synthetic_orders(400)
    tx = pd.DataFrame(orders).rename(columns={"ordered_at": "ts", "total": "amount"})
    history = History.of(tx)
    n = history.daily["customer_id"].nunique()
    assert horizon._training_history(history, n, 0) is history  # far under the cap: everyone
    sample = horizon._training_history(history, n, 0, cap=120)
    chosen = set(sample.daily["customer_id"].astype(str))
    assert 0.05 * n < len(chosen) < 0.3 * n  # expected share 1.5 * 120 / (3 * n), about 0.15
    for table in ("daily", "returns"):
        whole = getattr(history, table)
        mine = whole[whole["customer_id"].astype(str).isin(chosen)]
        assert len(getattr(sample, table)) == len(mine)
    assert horizon._training_history(history, n, 0, cap=120).daily.equals(sample.daily)  # seeded
