"""Known answers for the sequential and session models: a planted order pattern that only a model of
sequences can learn, and planted session co-occurrence that session-kNN must find; the session split and
its metrics; BPR above popularity; the hybrid never below its best candidate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketloop.recs.data import Interactions
from marketloop.recs.evaluation import ranking_metrics, session_metrics, session_split, split
from marketloop.recs.factor import BPR
from marketloop.recs.hybrid import Hybrid
from marketloop.recs.neighbours import ItemKNN
from marketloop.recs.popularity import Popularity
from marketloop.recs.sequential import SASRec, SessionSASRec
from marketloop.recs.sessions import SessionKNN

DAY = 86_400
T0 = 1_700_000_000


def successor_log(n_users: int = 200, n_pairs: int = 12, seed: int = 0) -> Interactions:
    """Products come in two kinds: a "starter" s is always followed at once by its own successor t_s,
    while any other product is followed by anything. Each customer's log is a few starter-successor pairs
    with random products between them, at random positions, ending in a starter: the held-out last item
    is that starter's successor. Item co-occurrence cannot tell it apart from the successors of the
    customer's earlier starters (they co-occur with their starters just as strongly); the order can."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        starters = rng.choice(n_pairs, int(rng.integers(3, 6)), replace=False)
        seq: list[str] = []
        for j, s in enumerate(starters):
            seq += [f"r{x}" for x in rng.integers(0, 20, int(rng.integers(0, 3)))]
            seq += [f"s{s}"] if j == len(starters) - 1 else [f"s{s}", f"t{s}"]
        seq.append(f"t{starters[-1]}")
        rows += [{"user": f"u{u}", "item": it, "ts": T0 + t * 60 + u * DAY} for t, it in enumerate(seq)]
    return Interactions.from_frame(pd.DataFrame(rows))


def test_only_the_sequential_model_learns_the_planted_order():
    data = successor_log()
    s = split(data, "leave-last-out")
    sasrec = SASRec(max_len=16, hidden=32, blocks=1, epochs=30, patience=30, batch_size=32, learning_rate=5e-3)
    sasrec.fit(s.train)
    seq = ranking_metrics(sasrec.score_users, s, k=1)["ndcg@1"]
    knn = ranking_metrics(ItemKNN().fit(s.train).score_users, s, k=1)["ndcg@1"]
    pop = ranking_metrics(Popularity().fit(s.train).score_users, s, k=1)["ndcg@1"]
    assert seq >= 0.8, (seq, sasrec.epochs_run_, sasrec.validation_history_)
    assert knn < 0.5 and pop < 0.15, (knn, pop)
    # the network ranks a live prefix the same way: after a starter comes its successor
    assert sasrec.recommend_session(["r1", "s4", "t4", "r2", "s7"], n=1)[0].tolist() == ["t7"]


def test_sasrec_stops_on_its_validation_tail_and_within_its_time_budget():
    data = successor_log(n_users=60)
    patient = SASRec(max_len=16, hidden=16, blocks=1, epochs=100, patience=2, batch_size=32).fit(data)
    assert patient.stopped_by_ == "validation" and patient.epochs_run_ < 100
    assert patient.epochs_run_ == patient.best_epoch_ + 2
    budget = SASRec(max_len=16, hidden=16, blocks=1, epochs=400, patience=400, max_seconds=0.0).fit(data)
    assert budget.stopped_by_ == "time budget" and budget.epochs_run_ == 1


def bundle_sessions(n_bundles: int = 10, per_bundle: int = 40, n_noise: int = 40, seed: int = 0) -> Interactions:
    """Visits that each hold one bundle's three products (in random order) and one random other product;
    the last day's visits are the test. Bundle k is (A_k, B_k, C_k)."""
    rng = np.random.default_rng(seed)
    rows, s = [], 0
    for rep in range(per_bundle):
        for k in range(n_bundles):
            items = [f"A{k}", f"B{k}", f"C{k}", f"n{rng.integers(n_noise)}"]
            order = rng.permutation(4)
            start = T0 + rep * DAY // 4 + k * 600
            rows += [{"user": f"s{s}", "item": items[j], "ts": start + t * 30} for t, j in enumerate(order)]
            s += 1
    return Interactions.from_frame(pd.DataFrame(rows))


def test_session_knn_finds_the_planted_co_occurrence():
    data = bundle_sessions()
    sp_ = session_split(data, test_days=1.0)
    assert sp_.info["test_sessions"] > 20 and sp_.info["train_sessions"] > 200
    knn = SessionKNN(neighbours=50).fit(sp_.train)
    m = session_metrics(knn.score_sessions, sp_, k=3)
    pop = session_metrics(Popularity().fit(sp_.train).score_sessions, sp_, k=3)
    # a prefix holding a bundle product: its two partners are the top two; noise items are unpredictable
    assert m["recall@3"] > 0.6 and m["recall@3"] > 4 * pop["recall@3"], (m, pop)
    ids, _ = knn.recommend_session(["A3"], n=2, exclude_seen=True)
    assert set(ids) == {"B3", "C3"}
    ids, _ = knn.recommend_session(["B7", "n1", "A2"], n=2, exclude_seen=True)  # the latest weighs most
    assert set(ids) == {"B2", "C2"}


def test_sasrec_on_sessions_learns_the_bundles_too():
    data = bundle_sessions(per_bundle=30)
    sp_ = session_split(data, test_days=1.0)
    model = SessionSASRec(hidden=32, blocks=1, epochs=60, patience=8, batch_size=64, learning_rate=5e-3)
    m = session_metrics(model.fit(sp_.train).score_sessions, sp_, k=3)
    pop = session_metrics(Popularity().fit(sp_.train).score_sessions, sp_, k=3)
    assert m["recall@3"] > 0.3 and m["recall@3"] > 3 * pop["recall@3"], (m, pop)


def test_session_split_and_metrics_known_answer():
    rows = [
        # training: two visits of a -> b -> c
        *({"user": f"t{j}", "item": it, "ts": T0 + j * 3600 + t} for j in range(2) for t, it in enumerate("abc")),
        # test (after the cut): a, a (merged), b, c, then an item nobody trained on (removed)
        *({"user": "x", "item": it, "ts": T0 + 5 * DAY + t} for t, it in enumerate(["a", "a", "b", "c", "z"])),
        {"user": "y", "item": "q", "ts": T0 + 5 * DAY},  # a one-item visit of an unknown item: dropped
    ]
    data = Interactions.from_frame(pd.DataFrame(rows))
    sp_ = session_split(data, test_days=1)
    assert [data.items[s].tolist() for s in sp_.test] == [["a", "b", "c"]]
    assert sp_.info["test_predictions"] == 2 and sp_.info["train_sessions"] == 2
    # a scorer that ranks b first after any prefix: right for a -> b, wrong (rank 2 of 5) for a, b -> c
    order = {"b": 5.0, "c": 4.0, "a": 3.0, "q": 2.0, "z": 1.0}
    scores = np.array([order[i] for i in data.items])
    m = session_metrics(lambda prefixes: np.tile(scores, (len(prefixes), 1)), sp_, k=2)
    assert m["recall@2"] == pytest.approx(1.0) and m["mrr@2"] == pytest.approx((1 + 1 / 2) / 2)
    assert m["last_recall@2"] == 1.0 and m["last_mrr@2"] == pytest.approx(0.5)
    tied = session_metrics(lambda prefixes: np.zeros((len(prefixes), data.n_items)), sp_, k=2)
    assert tied["recall@2"] == pytest.approx(2 / 5)  # five items tied: any one of them is in the top 2 w.p. 2/5
    assert tied["mrr@2"] == pytest.approx((1 + 1 / 2) / 5)


def test_bpr_beats_popularity_on_the_known_answer_data(board):
    s = split(board, "leave-last-out", exclude_seen=True)
    assert len(s.users) == 0  # every last item is a repeat: nothing left to rank once seen items go
    s = split(board, "random-stratified")
    bpr = BPR(factors=4, iterations=200, exclude_seen=True).fit(s.train)
    pop = Popularity().fit(s.train)
    b, p = (ranking_metrics(m.score_users, s)["ndcg@10"] for m in (bpr, pop))
    assert b > p + 0.2, (b, p)
    assert bpr.iterations_ >= 10 and set(bpr.validation_) == {
        "lr=0.01,reg=0.01",
        "lr=0.01,reg=0.001",
        "lr=0.05,reg=0.01",
        "lr=0.05,reg=0.001",
    }


def test_hybrid_serves_its_best_candidate_when_its_ranker_is_worse(board):
    """A ranker that can learn nothing (one tree of a vanishing learning rate: every candidate ties)
    loses to item-kNN on the latest fold, so the hybrid serves item-kNN: never below its best candidate."""
    s = split(board, "random-stratified")
    params = dict(candidates=("itemknn",), n_candidates=5, n_windows=3, validation="random-stratified")
    weak = Hybrid(n_estimators=2, learning_rate=1e-9, early_stopping_rounds=1, exclude_seen=True, **params)
    weak.fit(s.train)
    assert weak.fallback_ == "itemknn" and weak.validation_["itemknn"] > weak.validation_["hybrid"]
    knn = ItemKNN().fit(s.train)
    h, k = (ranking_metrics(m.score_users, s)["ndcg@10"] for m in (weak, knn))
    assert h == pytest.approx(k)


@pytest.mark.parametrize("validation", ["leave-last-out", "random-stratified", "temporal"])
def test_hybrid_validation_folds_follow_the_protocol(board, validation):
    h = Hybrid(validation=validation, val_days=15, min_rating=None)
    history, labels = h._fold(board, 1)
    assert not (history & labels).any() and labels.any()
    if validation == "leave-last-out":  # one label per customer, nothing of theirs after it in the history
        assert np.bincount(board.user_idx[labels], minlength=board.n_users).max() == 1
        label_ts = np.full(board.n_users, -np.inf)
        label_ts[board.user_idx[labels]] = board.ts[labels]
        assert (board.ts[history] <= label_ts[board.user_idx[history]]).all()
    if validation == "temporal":
        assert board.ts[history].max() < board.ts[labels].min()


def test_biased_mf_recovers_planted_ratings_and_eval_reports_rmse():
    """Ratings = global mean + user bias + item bias + a rank-2 interaction + noise (sd 0.3): biased MF's
    held-out RMSE is near the noise and far below predicting each user's mean; `eval` reports it."""
    from marketloop.recs.offline import evaluate_models
    from marketloop.recs.sources import InteractionFrame

    rng = np.random.default_rng(0)
    n_users, n_items = 150, 60
    p, q = rng.normal(0, 0.6, (n_users, 2)), rng.normal(0, 0.6, (n_items, 2))
    bu, bi = rng.normal(0, 0.4, n_users), rng.normal(0, 0.4, n_items)
    rows = []
    for u in range(n_users):
        for t, i in enumerate(rng.choice(n_items, 25, replace=False)):
            r = 3.2 + bu[u] + bi[i] + p[u] @ q[i] + rng.normal(0, 0.3)
            rows.append({"user": f"u{u}", "item": f"i{i}", "ts": T0 + t * DAY + u, "rating": float(np.clip(r, 1, 5))})
    frame = pd.DataFrame(rows)
    data = InteractionFrame(frame, pd.DataFrame({"product_id": frame["item"].unique()}), explicit=True)
    result = evaluate_models(data, ["biasedmf", "pop"], protocol="random-stratified", min_rating=4.0)
    mf = result.rows[0]
    user_mean = frame.groupby("user")["rating"].transform("mean")
    assert mf["rmse"] < 0.45 < float(np.sqrt(((frame["rating"] - user_mean) ** 2).mean())), mf
    assert mf["rated_pairs"] == 150 * 25 - 150 * round(0.75 * 25) and "rmse" not in result.rows[1]
    assert mf["ndcg@10"] > result.rows[1]["ndcg@10"]
