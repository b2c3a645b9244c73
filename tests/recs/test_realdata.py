"""The readers and the temporal split on the real datasets reproduce the facts recorded in DESIGN.md."""

from __future__ import annotations

import numpy as np
import pytest

from marketloop.recs.data import Interactions
from marketloop.recs.evaluation import ranking_metrics, split
from marketloop.recs.popularity import BuyAgain, Popularity
from marketloop.recs.sources import read_interactions

pytestmark = pytest.mark.realdata


def test_uci_temporal_split_repeat_share_and_buy_again(shared_data):
    data = read_interactions(shared_data / "uci_online_retail" / "online_retail.csv.gz", "uci")
    inter = Interactions.from_frame(data.frame, weight_col="rating")
    s = split(inter, "temporal", test_days=30)
    test = s.test[s.users]
    repeats = test.multiply(s.train.binary[s.users]).nnz / test.nnz
    assert repeats == pytest.approx(0.42, abs=0.02)  # DESIGN.md: 42 % of test purchases are repeats
    assert s.info["test_users"] == 1379
    sub = split(inter, "temporal", test_days=30)
    rng = np.random.default_rng(0)
    sub = type(sub)(sub.train, sub.test, np.sort(rng.choice(sub.users, 300, replace=False)), sub.protocol, False)
    pop = ranking_metrics(Popularity().fit(s.train).score_users, sub)["ndcg@10"]
    buy = ranking_metrics(BuyAgain().fit(s.train).score_users, sub)["ndcg@10"]
    assert buy > 3 * pop


def test_taobao_reader_and_purchase_test_set(shared_data):
    data = read_interactions(shared_data / "taobao_user_behavior_head" / "UserBehavior_head.csv", "taobao")
    assert data.default_min_rating == 4
    inter = Interactions.from_frame(data.frame, weight_col="rating")
    assert inter.n_users == 815
    s = split(inter, "temporal", test_days=2, min_rating=4)
    assert (s.info["test_users"], s.info["test_pairs"]) == (247, 409)


def test_taobao_sessions_split_and_session_knn_beats_popularity(shared_data):
    """Taobao's visits (30 minutes of inactivity end one): the session split is fixed, and session-kNN
    ranks the next product far better than popularity (on the first 150 test sessions, for speed)."""
    from dataclasses import replace

    from marketloop.recs.evaluation import session_metrics, session_split, sessionize
    from marketloop.recs.popularity import Popularity
    from marketloop.recs.sessions import SessionKNN

    data = read_interactions(shared_data / "taobao_user_behavior_head" / "UserBehavior_head.csv", "taobao")
    frame = data.frame.assign(session=sessionize(data.frame["user"], data.frame["ts"], None, 1800))
    inter = Interactions.from_frame(frame, user_col="session", item_col="item", time_col="ts", weight_col="rating")
    s = session_split(inter, test_days=1)
    assert (s.info["train_sessions"], s.info["test_sessions"], s.info["test_predictions"]) == (12209, 606, 2297)
    s = replace(s, test=s.test[:150])
    knn = session_metrics(SessionKNN().fit(s.train).score_sessions, s)["recall@20"]
    pop = session_metrics(Popularity().fit(s.train).score_sessions, s)["recall@20"]
    assert knn > 0.15 and knn > 10 * pop, (knn, pop)
