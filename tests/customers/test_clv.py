"""Lifetime value: the CDNOW golden numbers, the closed forms and bad inputs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from marketloop.customers.clv import CLVModel, bgnbd_prob_no_purchase
from marketloop.customers.transactions import read_transactions, rfm_summary
from marketloop.errors import InputError

GOLDEN = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # Fader, Hardie and Lee (2005)


@pytest.fixture(scope="module")
def cdnow_fit(shared_data):
    tx = read_transactions(shared_data / "cdnow_transactions" / "CDNOW_sample.txt", "cdnow")
    summary = rfm_summary(tx, dt.date(1997, 9, 30))
    return summary, CLVModel(n_draws=50).fit(summary)


@pytest.mark.realdata
def test_cdnow_golden_parameters(cdnow_fit):
    summary, model = cdnow_fit
    assert len(summary) == 2357
    for name, value in GOLDEN.items():
        assert model.params_[name] == pytest.approx(value, rel=0.02), name
    # Gamma-Gamma on the same sample (Fader and Hardie's note: p=6.25, q=3.74, v=15.44)
    assert model.spend_params_ == pytest.approx({"p": 6.25, "q": 3.74, "v": 15.44}, rel=0.02)


@pytest.mark.realdata
def test_cdnow_predictions_are_consistent(cdnow_fit):
    summary, model = cdnow_fit
    out = model.predict(summary.head(200), horizon_days=273)
    assert ((out["p_alive"] > 0) & (out["p_alive"] <= 1)).all()
    assert (out["clv_low"] <= out["clv"] + 1e-9).all()
    assert (out["clv_high"] >= out["clv_low"]).all()
    # one-time buyers are certainly alive in BG/NBD; heavy recent buyers expect more purchases
    assert np.allclose(out.loc[summary.head(200)["frequency"].to_numpy() == 0, "p_alive"], 1.0)
    # the NumPy closed form agrees with PyMC-Marketing's implementation for repeat buyers
    repeat = summary[summary["frequency"] > 0].head(100)
    ours = bgnbd_prob_no_purchase(model.params_, *(repeat[c].to_numpy() for c in ("frequency", "recency", "T")), 4.0)
    theirs = model._mean(
        model.purchase_model_.expected_probability_no_purchase(
            t=4, data=repeat[["customer_id", "frequency", "recency", "T"]]
        )
    )
    assert np.allclose(ours, theirs, rtol=1e-6)
    waits = model.next_purchase_days(summary.head(200))
    ok = ~np.isnan(waits).any(axis=1)
    assert (np.diff(waits[ok], axis=1) >= 0).all()


def test_prob_no_purchase_limits():
    params = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}
    x, tx, T = np.array([0.0, 3.0]), np.array([0.0, 10.0]), np.array([20.0, 20.0])
    assert np.allclose(bgnbd_prob_no_purchase(params, x, tx, T, 0.0), 1.0)
    later = bgnbd_prob_no_purchase(params, x, tx, T, 52.0)
    assert (later < bgnbd_prob_no_purchase(params, x, tx, T, 4.0)).all()


@pytest.mark.parametrize(
    ("kwargs", "summary", "match"),
    [
        ({"model": "weibull"}, None, "CLV model 'weibull' is not known"),
        ({"method": "vi"}, None, "fit method 'vi' is not known"),
        (
            {},
            pd.DataFrame(
                {"customer_id": ["a"], "frequency": [1.0], "recency": [1.0], "T": [2.0], "monetary_value": [1.0]}
            ),
            "at least 2 customers",
        ),
        (
            {},
            pd.DataFrame(
                {
                    "customer_id": ["a", "b"],
                    "frequency": [0.0, 0.0],
                    "recency": [0.0, 0.0],
                    "T": [2.0, 3.0],
                    "monetary_value": [0.0, 0.0],
                }
            ),
            "no customer made a repeat purchase",
        ),
    ],
)
def test_bad_inputs(kwargs, summary, match):
    if summary is None:
        summary = pd.DataFrame(
            {
                "customer_id": ["a", "b"],
                "frequency": [1.0, 0.0],
                "recency": [1.0, 0.0],
                "T": [2.0, 3.0],
                "monetary_value": [5.0, 0.0],
            }
        )
    with pytest.raises(InputError, match=match):
        CLVModel(**kwargs).fit(summary)


def test_predict_before_fit():
    with pytest.raises(InputError, match="not fitted"):
        CLVModel().predict(
            pd.DataFrame(
                {"customer_id": ["a"], "frequency": [1.0], "recency": [1.0], "T": [2.0], "monetary_value": [1.0]}
            )
        )
