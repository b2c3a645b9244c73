"""RFM scores and the segment grid."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from marketloop.customers.rfm import DEFAULT_RULES, SEGMENTS, RFMConfig, assign_segments, quantile_score, rfm_table
from marketloop.errors import ConfigError

from .conftest import tx_frame


def test_default_grid_covers_every_cell_once():
    r, fm = np.meshgrid(np.arange(1, 6), np.arange(1, 6))
    r, fm = r.ravel(), fm.ravel()
    hits = sum(rule.matches(r, fm).astype(int) for rule in DEFAULT_RULES)
    assert (hits == 1).all()
    assert set(assign_segments(r, fm)) == set(SEGMENTS)


@pytest.mark.parametrize(
    ("r", "fm", "name"),
    [
        (5, 5, "Champions"),
        (5, 1, "New"),
        (4, 1, "Promising"),
        (1, 5, "Can't lose them"),
        (1, 1, "Lost"),
        (2, 1, "Hibernating"),
        (3, 3, "Need attention"),
        (2, 3, "At risk"),
    ],
)
def test_segment_lookup(r, fm, name):
    assert assign_segments(np.array([r]), np.array([fm]))[0] == name


def test_quantile_scores_ties_share_a_score():
    scores = quantile_score(pd.Series([1, 1, 1, 1, 5, 9, 20, 30, 40, 50]), 5)
    assert len(set(scores[:4])) == 1
    assert scores[-1] == 5 and scores.min() >= 1
    assert quantile_score(pd.Series([10, 1]), 5, higher_is_better=False).tolist() == [3, 5]


def test_rfm_table_known_answer():
    tx = tx_frame(
        [
            ("a", "2024-01-01", 10.0),
            ("a", "2024-03-01", 30.0),
            ("a", "2024-03-02", -5.0),
            ("b", "2024-01-02", 5.0),
            (None, "2024-03-01", 99.0),
        ]
    )
    table = rfm_table(tx, dt.date(2024, 3, 31)).set_index("customer_id")
    assert table.loc["a", "revenue"] == 35.0 and table.loc["a", "returns"] == 1 and table.loc["a", "orders"] == 2
    assert table.loc["a", "recency_days"] == 30 and table.loc["b", "recency_days"] == 89
    assert table.loc["a", "r_score"] > table.loc["b", "r_score"]
    assert len(table) == 2  # guests have no profile


def test_rules_from_toml(tmp_path):
    path = tmp_path / "rfm.toml"
    path.write_text(
        'n_bins = 3\n[[segment]]\nname = "Best"\nr = [3, 3]\nfm = [2, 3]\n[[segment]]\nname = "Rest"\nr = [1, 3]\nfm = [1, 3]\n'
    )
    config = RFMConfig.from_toml(path)
    assert config.n_bins == 3
    assert assign_segments(np.array([3, 1]), np.array([3, 3]), config.rules).tolist() == ["Best", "Rest"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("n_bins = 1\n", "n_bins"),
        ("[[segment]]\nname = 'x'\nr = [1]\nfm = [1, 2]\n", "segment #1"),
        ("n_bins = 5\n", "no \\[\\[segment\\]\\] rules"),
        ("n_bins = [\n", "not valid TOML"),
    ],
)
def test_bad_rules_files(tmp_path, text, match):
    path = tmp_path / "rfm.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        RFMConfig.from_toml(path)
