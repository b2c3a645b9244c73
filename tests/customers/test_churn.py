"""Churn classifier, calibration metric, bands and the rule baseline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from marketloop.customers.churn import (
    BAND_NAMES,
    ChurnClassifier,
    Recalibrator,
    RFMRuleBaseline,
    band_calibration,
    expected_calibration_error,
    quantile_thresholds,
    reliability,
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


def test_quantile_bands_hold_their_shares_whatever_the_base_rate():
    rng = np.random.default_rng(0)
    for base in (0.1, 0.5, 0.92):  # a store where 92 % do not reorder within H: absolute bands say "very high" to all
        prob = np.clip(rng.beta(20 * base, 20 * (1 - base), 5000), 0, 1)
        shares = pd.Series(risk_bands(prob, quantile_thresholds(prob))).value_counts(normalize=True)
        assert [round(shares[b], 2) for b in BAND_NAMES] == [0.4, 0.3, 0.2, 0.1]
    with pytest.raises(InputError, match="adding up to 1"):
        quantile_thresholds(np.array([0.5]), (0.5, 0.5, 0.5, 0.5))


def test_band_calibration_and_reliability_known_answer():
    # 10 customers: the riskiest (0.9) churned, the three at 0.6 half did not, ...
    prob = np.array([0.1, 0.1, 0.1, 0.1, 0.3, 0.3, 0.3, 0.6, 0.6, 0.9])
    y = np.array([0, 0, 0, 1, 0, 1, 0, 1, 0, 1])
    rows = {r["band"]: r for r in band_calibration(y, prob, (0.2, 0.5, 0.8))}
    assert rows["low"]["customers"] == 4 and rows["low"]["observed_rate"] == 0.25
    assert rows["medium"]["mean_predicted"] == pytest.approx(0.3) and rows["medium"]["observed_rate"] == pytest.approx(
        1 / 3, abs=1e-4
    )
    assert rows["very_high"]["share"] == 0.1 and rows["very_high"]["observed_rate"] == 1.0
    assert rows["very_high"]["ece"] == pytest.approx(0.1) and rows["low"]["ece"] == pytest.approx(0.15)
    assert rows["high"]["share_at_or_above"] == 0.3
    diagram = reliability(y, prob)
    assert [(b["low"], b["customers"], b["observed_rate"]) for b in diagram] == [
        (0.1, 4, 0.25),
        (0.3, 3, pytest.approx(1 / 3, abs=1e-4)),
        (0.6, 2, 0.5),
        (0.9, 1, 1.0),
    ]


def test_recalibration_maps_an_overconfident_model_to_observed_rates():
    """Statistical tolerance: a model whose log-odds are twice too large and shifted (the probabilities of a
    model fitted in a period with another base rate) is recalibrated on one labelled snapshot; on the next
    its calibration error falls from over 0.1 to under 0.03 and its ranking is unchanged."""
    rng = np.random.default_rng(3)
    logit = rng.normal(0.5, 1.0, 12_000)
    y = rng.random(12_000) < 1 / (1 + np.exp(-logit))
    raw = 1 / (1 + np.exp(-(2 * logit + 1.0)))
    recal = Recalibrator().fit(raw[:6000], y[:6000])
    fixed = recal.predict(raw[6000:])
    assert expected_calibration_error(y[6000:], raw[6000:]) > 0.1
    assert expected_calibration_error(y[6000:], fixed) < 0.03
    assert (np.diff(fixed[np.argsort(raw[6000:])]) >= 0).all() and 0 < fixed.min() and fixed.max() < 1
    with pytest.raises(InputError, match="both outcomes"):
        Recalibrator().fit(np.full(10, 0.5), np.ones(10))


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
