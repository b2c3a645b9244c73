"""One contract every recommender passes: shapes, ids, exclusion, similar items, save/load round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from marketloop.errors import InputError, NotFoundError
from marketloop.recs import Recommender, load_model
from marketloop.recs.association import AssociationRules
from marketloop.recs.content import Content
from marketloop.recs.factor import ALS, BPR, BiasedMF
from marketloop.recs.hybrid import Hybrid
from marketloop.recs.neighbours import EASE, ItemKNN, UserKNN
from marketloop.recs.popularity import BuyAgain, Popularity, Trending
from marketloop.recs.sequential import SASRec, SessionSASRec
from marketloop.recs.sessions import SessionKNN
from marketloop.recs.twotower import TwoTower

FACTORIES = {
    "pop": lambda: Popularity(),
    "trending": lambda: Trending(half_life_days=7),
    "buyagain": lambda: BuyAgain(),
    "itemknn": lambda: ItemKNN(neighbours=20, shrink=1.0),
    "ease": lambda: EASE(l2=1.0),
    "als": lambda: ALS(factors=4, iterations=10, regularization=0.01),
    "bpr": lambda: BPR(factors=4, iterations=200, learning_rate=0.05, exclude_seen=True),
    "content": lambda: Content(encoder="hashing", cache_dir=None),
    "sasrec": lambda: SASRec(max_len=8, hidden=16, blocks=1, epochs=3, batch_size=8),
    "sasrec-session": lambda: SessionSASRec(max_len=8, hidden=16, blocks=1, epochs=3, batch_size=8),
    "sknn": lambda: SessionKNN(neighbours=10),
    "userknn": lambda: UserKNN(neighbours=10, shrink=1.0),
    "biasedmf": lambda: BiasedMF(factors=4, iterations=5),
    "twotower": lambda: TwoTower(dim=16, hidden=32, epochs=20, batch_size=32, temperature=0.1, patience=20),
    "assoc": lambda: AssociationRules(min_count=1, min_confidence=0.0),
    "hybrid": lambda: Hybrid(candidates=("itemknn", "ease"), n_candidates=5, val_days=15, n_windows=2, n_estimators=10),
}
PERSONAL = ["itemknn", "ease", "als", "bpr", "content", "userknn", "twotower"]


@pytest.fixture(params=sorted(FACTORIES), scope="module")
def fitted(request, board, board_catalog):
    return request.param, FACTORIES[request.param]().fit(board, board_catalog), board


def test_follows_the_protocol(fitted):
    name, model, _ = fitted
    assert isinstance(model, Recommender)
    assert model.name == name
    assert model.fit_seconds_ >= 0
    assert set(model.get_params()) == set(type(model)._params)


def test_recommend_one_and_batch(fitted):
    _, model, data = fitted
    ids, scores = model.recommend("u0", n=3, exclude_seen=False)
    assert ids.shape == scores.shape == (3,)
    assert set(ids) <= set(data.items)
    assert np.all(np.diff(scores) <= 1e-12)  # best first
    batch_ids, batch_scores = model.recommend(["u0", "u11", "nobody"], n=3, exclude_seen=False)
    assert batch_ids.shape == batch_scores.shape == (3, 3)
    assert list(batch_ids[0]) == list(ids)
    assert all(v is None for v in batch_ids[2]) and np.isnan(batch_scores[2]).all()


def test_exclude_seen_never_returns_bought_items(fitted):
    _, model, data = fitted
    ids, _ = model.recommend("u0", n=10, exclude_seen=True)
    bought = set(data.items[data.item_idx[data.user_idx == data.user_index("u0")[0]]])
    assert not set(ids) & bought


def test_unknown_user_gets_nothing(fitted):
    _, model, _ = fitted
    ids, scores = model.recommend("stranger", n=5)
    assert len(ids) == len(scores) == 0


def test_similar_items_exclude_the_item_itself(fitted):
    _, model, _ = fitted
    ids, _ = model.similar_items("a0", n=4)
    assert "a0" not in ids and len(ids) <= 4
    with pytest.raises(NotFoundError, match="'zz' is not known"):
        model.similar_items("zz")


def test_save_load_round_trip(fitted, tmp_path):
    _, model, _ = fitted
    path = model.save(tmp_path / "m")
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert json.loads(json.dumps(loaded.get_params())) == json.loads(json.dumps(model.get_params()))
    users = ["u0", "u7", "u15"]
    a_ids, a_scores = model.recommend(users, n=4, exclude_seen=False)
    b_ids, b_scores = loaded.recommend(users, n=4, exclude_seen=False)
    np.testing.assert_allclose(a_scores.astype(float), b_scores.astype(float), rtol=1e-5, atol=1e-6)
    assert (a_ids == b_ids).all() or np.allclose(np.diff(a_scores, axis=1), 0)  # ties may swap


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_bad_n_is_refused(fitted, n):
    _, model, _ = fitted
    with pytest.raises(InputError, match="n must be a positive whole number"):
        model.recommend("u0", n=n)


@pytest.mark.parametrize("name", PERSONAL)
def test_checkerboard_known_answer(name, board, board_catalog):
    """Each customer's one missing item of their own group is the top unseen recommendation."""
    model = FACTORIES[name]().fit(board, board_catalog)
    right = 0
    for u in range(20):
        group = "a" if u < 10 else "b"
        ids, _ = model.recommend(f"u{u}", n=1, exclude_seen=True)
        right += ids[0] == f"{group}{u % 5}" if name != "content" else ids[0].startswith(group)
    assert right >= 18, f"{name}: {right}/20 right"


def test_forget_drops_the_user_everywhere(fitted, tmp_path):
    """Every model either drops a user's rows of learned state in place (the user is then unknown, and
    what is saved no longer holds them) or says that it must be retrained."""
    name, model, _ = fitted
    model = load_model(model.save(tmp_path / "before"))  # a copy: the fixture is shared
    if type(model)._user_state is None:
        with pytest.raises(InputError, match="cannot drop in place"):
            model.forget(["u0"])
        return
    others = ["u7", "u15"]
    before_ids, before_scores = model.recommend(others, n=3, exclude_seen=False)
    assert model.forget(["u0", "nobody"]) == 1
    assert model.forget(["u0"]) == 0
    assert "u0" not in set(model.users_) and len(model.recommend("u0", n=3)[0]) == 0
    for attr in type(model)._user_state:
        assert getattr(model, attr).shape[0] == len(model.users_), attr
    reloaded = load_model(model.save(tmp_path / "after"))
    assert "u0" not in set(reloaded.users_)
    after_ids, after_scores = reloaded.recommend(others, n=3, exclude_seen=False)
    if name not in ("userknn", "sknn"):  # the others keep their state (neighbour models lose u0 as a neighbour)
        np.testing.assert_allclose(after_scores.astype(float), before_scores.astype(float), rtol=1e-5, atol=1e-6)


def test_session_models_rank_a_live_session(fitted):
    name, model, _ = fitted
    if not model.supports_sessions:
        with pytest.raises(InputError, match="does not rank items for a session"):
            model.recommend_session(["a1"])
        return
    ids, scores = model.recommend_session(["a1", "a2", "zz-unknown"], n=3)
    assert len(ids) == 3 and np.all(np.diff(scores) <= 1e-9)
    assert model.score_sessions([np.array([], dtype=np.int64)]).shape == (1, len(model.items_))
