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
