"""The hybrid learns what a count-based buy-again ranking cannot: here, customers rebuy their current
item (the one bought most recently), while older items have more purchases."""

from __future__ import annotations

import numpy as np
import pandas as pd

from marketloop.recs.data import Interactions
from marketloop.recs.evaluation import ranking_metrics, split
from marketloop.recs.features import FeatureState
from marketloop.recs.hybrid import Hybrid, _rank_within
from marketloop.recs.popularity import BuyAgain

DAY = 86_400


def current_item_log(n_customers: int = 60, days: int = 120, seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_customers):
        offset = int(rng.integers(0, 20))
        items = rng.choice(40, size=days // 20 + 2, replace=False)
        for k, item in enumerate(items):
            for d in (2, 9, 16):
                day = offset + 20 * (k - 1) + d
                if 0 <= day < days:
                    rows.append({"user": f"c{u}", "item": f"p{item}", "ts": day * DAY + u})
    return Interactions.from_frame(pd.DataFrame(rows))


def test_hybrid_beats_buy_again_when_recency_matters():
    data = current_item_log()
    s = split(data, "temporal", test_days=8)
    hybrid = Hybrid(candidates=("itemknn",), n_candidates=10, val_days=8, n_windows=4, n_estimators=40).fit(s.train)
    buy = BuyAgain().fit(s.train)
    h = ranking_metrics(hybrid.score_users, s, k=3)["ndcg@3"]
    b = ranking_metrics(buy.score_users, s, k=3)["ndcg@3"]
    assert h > b + 0.2, (h, b)
    assert len(hybrid.feature_names()) == hybrid.booster_.num_feature()
    recency = {"ui_age_days", "ui_before_user_last_days", "ui_in_last_session"}  # how recently the item was bought
    assert recency & set(list(hybrid.feature_importance())[:5])


def test_tree_count_chosen_on_the_latest_training_window():
    """With early stopping the number of trees comes from the most recent window of the training log
    (scored, never trained on, by the probe ranker); the final ranker has exactly that many."""
    data = current_item_log(n_customers=40)
    params = dict(candidates=("itemknn",), n_candidates=10, val_days=8, n_windows=3, n_estimators=150)
    chosen = Hybrid(early_stopping_rounds=5, **params).fit(data)
    assert 1 <= chosen.n_estimators_ < 150 and chosen.booster_.num_trees() == chosen.n_estimators_
    assert 0.5 < chosen.val_ndcg_ <= 1.0
    fixed = Hybrid(early_stopping_rounds=None, **params).fit(data)
    assert fixed.n_estimators_ == 150 and fixed.val_ndcg_ is None
    single = Hybrid(early_stopping_rounds=5, **{**params, "n_windows": 1}).fit(data)
    assert single.n_estimators_ == 150 and single.val_ndcg_ is None  # nothing left to train the probe on


def test_features_as_of_the_log_end():
    frame = pd.DataFrame(
        {"user": ["a", "a", "a", "b"], "item": ["x", "x", "y", "x"], "ts": [0, 10 * DAY, 12 * DAY, 4 * DAY]}
    )
    data = Interactions.from_frame(frame)
    st = FeatureState.build(data)
    f = dict(zip(FeatureState.names(), st.features(np.array([0]), np.array([0]))[0], strict=False))
    assert f["ui_events"] == 2 and f["ui_days"] == 2 and f["ui_age_days"] == 2.0 and f["ui_first_days"] == 12.0
    assert f["i_users"] == 2 and f["i_repeat_rate"] == 0.5 and f["i_gap_days"] == 10.0
    assert f["due_vs_item_gap"] == 0.2
    never = dict(zip(FeatureState.names(), st.features(np.array([1]), np.array([1]))[0], strict=False))
    assert never["ui_events"] == 0 and np.isnan(never["ui_age_days"])


def test_multi_behaviour_features():
    """Customer a viewed, carted and viewed x again days ago, then in one session viewed y and bought z;
    b bought x. Strength 4 is a purchase."""
    from marketloop.recs.data import Catalog

    frame = pd.DataFrame(
        {
            "user": ["a", "a", "a", "a", "a", "b"],
            "item": ["x", "x", "x", "y", "z", "x"],
            "ts": [0, 1 * DAY, 2 * DAY, 5 * DAY - 600, 5 * DAY, 3 * DAY],
            "rating": [1.0, 3.0, 1.0, 1.0, 4.0, 4.0],
        }
    )
    data = Interactions.from_frame(frame, weight_col="rating")
    catalog = Catalog.from_frame(
        pd.DataFrame({"product_id": ["x", "y", "z"], "category": ["c1", "c2", "c2"]}), data.items
    )
    st = FeatureState.build(data, catalog, min_rating=4.0)
    a, b = list(data.users).index("a"), list(data.users).index("b")
    x, y, z = (list(data.items).index(i) for i in "xyz")

    def feats(u: int, i: int) -> dict:
        return dict(zip(FeatureState.names(), st.features(np.array([u]), np.array([i]))[0], strict=False))

    ax, ay, bz = feats(a, x), feats(a, y), feats(b, z)
    assert ax["ui_max_weight"] == 3 and ax["ui_last_weight"] == 1  # the cart is the strongest, a view the latest
    assert ax["ui_before_user_last_days"] == 3.0 and ax["ui_in_last_session"] == 0 and ax["uc_age_days"] == 3.0
    assert ay["ui_before_user_last_days"] == 600 / DAY and ay["ui_in_last_session"] == 1 and ay["uc_age_days"] == 0
    assert ax["i_conversion"] == 0.5 and ay["i_conversion"] == 0 and feats(a, z)["i_conversion"] == 1
    assert bz["ui_last_weight"] == 0 and bz["ui_in_last_session"] == 0 and np.isnan(bz["uc_age_days"])
    assert np.isnan(bz["ui_before_user_last_days"])


def test_rank_within_groups():
    assert _rank_within(np.array([0, 0, 0, 1, 1]), np.array([0.1, 0.5, 0.3, 2.0, 1.0])).tolist() == [3, 1, 2, 1, 2]


def test_precomputed_lists_serve_the_same_top_items(tmp_path):
    from marketloop.recs import load_model

    data = current_item_log(n_customers=20)
    model = Hybrid(candidates=("itemknn",), n_candidates=10, val_days=8, n_windows=2, n_estimators=10).fit(data)
    users = list(data.users[:10])
    slow_ids, slow_scores = model.recommend(users, n=5, exclude_seen=False)
    model.precompute(n=20)
    fast_ids, fast_scores = model.recommend(users, n=5, exclude_seen=False)
    np.testing.assert_allclose(slow_scores.astype(float), fast_scores.astype(float))
    loaded = load_model(model.save(tmp_path / "h"))
    assert loaded.cache_idx_.shape == (20, 20)
    np.testing.assert_allclose(
        loaded.recommend(users, n=5, exclude_seen=False)[1].astype(float), fast_scores.astype(float)
    )
    # serving reads the stored list directly, continued by trend past its end: the same as the dense row
    from marketloop.recs.base import top_row

    for u in range(len(loaded.users_)):
        for k in (5, 20, 30):
            idx, vals = loaded.top_for_user(u, k)
            dense_idx, dense_vals = top_row(loaded.score_users(np.array([u]))[0], k)
            assert np.array_equal(vals, dense_vals)  # the same scores; items tied at the cut may differ
            values, counts = np.unique(vals, return_counts=True)
            once = np.isin(vals, values[counts == 1])
            assert idx[once].tolist() == dense_idx[once].tolist()
            assert loaded.user_position(loaded.users_[u]) == u
    assert loaded.user_position("nobody") == -1 and loaded.item_position(loaded.items_[3]) == 3


def test_top_row_keeps_finite_scores_best_first_ties_by_position():
    from marketloop.recs.base import top_row

    idx, vals = top_row(np.array([0.5, np.inf * -1, 2.0, 0.5, np.nan, 1.0]), 5)
    assert idx.tolist() == [2, 5, 0, 3] and vals.tolist() == [2.0, 1.0, 0.5, 0.5]
    assert top_row(np.array([1.0, 3.0]), 0)[0].tolist() == [] and top_row(np.array([1.0, 3.0]), 9)[0].tolist() == [1, 0]
