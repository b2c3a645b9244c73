"""Split protocols and ranking metrics against hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from marketloop.recs.data import Interactions
from marketloop.recs.evaluation import Split, ranking_metrics, split

DAY = 86_400


def _split(train_pairs, test_pairs, n_users=2, n_items=6, exclude_seen=False):
    frame = pd.DataFrame([{"user": f"u{u}", "item": f"i{i}", "ts": 1} for u, i in train_pairs])
    data = Interactions.from_frame(
        frame, items=[f"i{i}" for i in range(n_items)], users=[f"u{u}" for u in range(n_users)]
    )
    test = sp.csr_matrix((np.ones(len(test_pairs)), tuple(zip(*test_pairs, strict=False))), shape=(n_users, n_items))
    return Split(data, test, np.arange(n_users), "temporal", exclude_seen)


def test_metrics_known_answer():
    # user 0: relevant {1, 3}; ranking 0,1,2,3,... -> hits at ranks 2 and 4 (k=4)
    # user 1: relevant {5}; ranking puts 5 last (rank 6)
    s = _split([(0, 0), (1, 0)], [(0, 1), (0, 3), (1, 5)])

    def scores(users):
        return np.tile(np.arange(6, 0, -1, dtype=float), (len(users), 1))

    m = ranking_metrics(scores, s, k=4)
    dcg0 = 1 / math.log2(3) + 1 / math.log2(5)
    idcg0 = 1 + 1 / math.log2(3)
    assert m["ndcg@4"] == pytest.approx((dcg0 / idcg0 + 0) / 2)
    assert m["recall@4"] == pytest.approx((1.0 + 0) / 2)
    assert m["precision@4"] == pytest.approx((2 / 4 + 0) / 2)
    assert m["map@4"] == pytest.approx(((1 / 2 + 2 / 4) / 2 + 0) / 2)
    assert m["mrr"] == pytest.approx((1 / 2 + 1 / 6) / 2)
    assert m["coverage"] == pytest.approx(4 / 6)
    assert m["users"] == 2


def test_exclude_seen_masks_training_items():
    s = _split([(0, 0), (0, 1)], [(0, 2)], n_users=1, exclude_seen=True)
    m = ranking_metrics(lambda u: np.tile(np.arange(6, 0, -1, dtype=float), (len(u), 1)), s, k=1)
    assert m["ndcg@1"] == 1.0  # items 0 and 1 are masked, so item 2 comes first


def _log(n_users=4, per_user=8):
    rows = [
        {"user": f"u{u}", "item": f"i{(u + j) % 10}", "ts": j * DAY + u, "rating": 4.0 if j % 2 else 1.0}
        for u in range(n_users)
        for j in range(per_user)
    ]
    return Interactions.from_frame(pd.DataFrame(rows), weight_col="rating")


def test_temporal_split_uses_the_last_days_and_known_customers():
    data = _log()
    s = split(data, "temporal", test_days=2)
    assert s.train.ts.max() < data.max_ts - 2 * DAY
    assert s.info["test_users"] == 4 and not s.exclude_seen
    s4 = split(data, "temporal", test_days=2, min_rating=4)
    assert s4.test.nnz < s.test.nnz


def test_leave_last_out_takes_one_item_per_customer():
    data = _log()
    s = split(data, "leave-last-out")
    assert np.diff(s.test.indptr).tolist() == [1, 1, 1, 1]
    assert len(s.train) == len(data) - 4


def test_random_stratified_matches_75_25_per_customer():
    data = _log(n_users=3, per_user=8)
    s = split(data, "random-stratified", test_frac=0.25, exclude_seen=False)
    per_user_train = np.bincount(s.train.user_idx, minlength=3)
    assert per_user_train.tolist() == [6, 6, 6]  # round(0.75 * 8)
    again = split(data, "random-stratified", test_frac=0.25, exclude_seen=False)
    assert (again.test != s.test).nnz == 0  # seeded
    assert split(data, "random-stratified").exclude_seen  # the MS Recommenders benchmark removes seen items


def test_tied_scores_count_as_ties():
    """A model that scores everything alike gets the figure of a random order, whatever the sort does."""
    s = _split([(0, 0)], [(0, 3)], n_users=1)
    m = ranking_metrics(lambda u: np.zeros((len(u), 6)), s, k=4)
    discounts = 1 / np.log2(np.arange(2, 6))
    assert m["ndcg@4"] == pytest.approx(discounts.sum() / 6)  # the one relevant item: 1/6 at each position
    assert m["recall@4"] == pytest.approx(4 / 6) and m["precision@4"] == pytest.approx(1 / 6)
    assert m["map@4"] == pytest.approx(sum(1 / 6 / (p + 1) for p in range(4)))
    assert m["mrr"] == pytest.approx(1 / 3.5)  # average rank of six tied items
    # a tie block at the cut: items 0 and 1 lead, then 2, 3, 4 tied for the last two places, 3 relevant
    scores = np.array([[9.0, 8.0, 5.0, 5.0, 5.0, 1.0]])
    m = ranking_metrics(lambda u: scores, s, k=4)
    assert m["recall@4"] == pytest.approx(2 / 3)
    assert m["ndcg@4"] == pytest.approx((1 / np.log2(4) + 1 / np.log2(5)) / 3)


def test_map_inside_a_tie_block():
    # two relevant items (1, 2) tied with one irrelevant (0) for the top three places
    s = _split([(0, 5)], [(0, 1), (0, 2)], n_users=1, n_items=6)
    m = ranking_metrics(lambda u: np.array([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]]), s, k=3)
    orders = [(a, b, c) for a in range(3) for b in range(3) for c in range(3) if len({a, b, c}) == 3]
    aps = []
    for order in orders:  # every arrangement of the block, equally likely
        rel = [order[p] in (1, 2) for p in range(3)]
        hits = np.cumsum(rel)
        aps.append(sum(hits[p] / (p + 1) for p in range(3) if rel[p]) / 2)
    assert m["map@3"] == pytest.approx(np.mean(aps))


def test_leave_last_out_keeps_nothing_after_the_test_event():
    """With --min-rating the held-out purchase is often followed by views: they leave training too."""
    rows = [
        {"user": "u", "item": "a", "ts": 1, "rating": 4.0},
        {"user": "u", "item": "b", "ts": 2, "rating": 4.0},
        {"user": "u", "item": "b", "ts": 2, "rating": 1.0},  # same moment: stays
        {"user": "u", "item": "c", "ts": 3, "rating": 1.0},  # after the last purchase: must go
        {"user": "u", "item": "d", "ts": 4, "rating": 1.0},
    ]
    data = Interactions.from_frame(pd.DataFrame(rows), weight_col="rating")
    s = split(data, "leave-last-out", min_rating=4)
    assert data.items[s.test[0].indices].tolist() == ["b"]
    assert sorted(data.items[s.train.item_idx].tolist()) == ["a", "b"]
    assert s.train.ts.max() <= 2 and s.info["dropped_later_events"] == 2


@pytest.mark.parametrize("protocol", ["temporal", "leave-last-out", "random-stratified"])
def test_exclude_seen_applies_to_every_protocol(protocol):
    data = _log(n_users=6, per_user=10)
    for exclude in (True, False):
        s = split(data, protocol, test_days=3, exclude_seen=exclude)
        assert s.exclude_seen is exclude
        overlap = s.test.multiply(s.train.binary).nnz
        assert (overlap == 0) if exclude else True


def test_sampled_negatives_are_labelled_and_rank_against_n_items():
    s = _split([(0, 0)], [(0, 3)], n_users=1, n_items=200)
    perfect = ranking_metrics(lambda u: np.eye(200)[[3]] * 10.0, s, k=10, sampled_negatives=100)
    assert perfect["sampled100_hr@10"] == 1.0 and perfect["sampled100_ndcg@10"] == 1.0
    worst = ranking_metrics(lambda u: -np.eye(200)[[3]], s, k=10, sampled_negatives=100)
    assert worst["sampled100_hr@10"] == 0.0 and worst["ndcg@10"] == 0.0
    assert "sampled100_hr@10" not in ranking_metrics(lambda u: np.zeros((1, 200)), s, k=10)


def test_every_model_row_has_wall_time_and_peak_memory():
    from marketloop.recs.offline import evaluate_models
    from marketloop.recs.sources import InteractionFrame

    frame = pd.DataFrame(
        [
            {"user": f"u{u}", "item": f"i{(u * 3 + j) % 12}", "ts": j * DAY + u, "rating": 1.0}
            for u in range(20)
            for j in range(6)
        ]
    )
    data = InteractionFrame(frame, pd.DataFrame({"product_id": frame["item"].unique()}))
    result = evaluate_models(data, ["pop", "itemknn"], protocol="leave-last-out", sampled_negatives=5)
    for row in result.rows:
        assert row["wall_seconds"] >= row["train_seconds"] >= 0 and row["peak_memory_mb"] >= 0
        assert "sampled5_hr@10" in row
    assert "tied scores count as ties" in result.info["metrics"]
