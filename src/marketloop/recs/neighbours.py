"""Neighbourhood models: item-kNN (cosine on co-occurrence with shrinkage) and EASE."""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from marketloop.recs.base import BaseRecommender, register
from marketloop.recs.data import Catalog, Interactions

log = logging.getLogger(__name__)


def _csr_state(prefix: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    m = m.tocsr()
    return {f"{prefix}_data": m.data, f"{prefix}_indices": m.indices, f"{prefix}_indptr": m.indptr}


def _csr_from(prefix: str, arrays: dict[str, np.ndarray], shape: tuple[int, int]) -> sp.csr_matrix:
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]), shape=shape
    )


@register
class ItemKNN(BaseRecommender):
    """Item-to-item cosine similarity of binary co-occurrence, shrunk towards 0 for rare pairs
    (``co / (|i| |j| + shrink)``), keeping the `neighbours` most similar items per item.

    Scores for a customer are the sum of similarities to the items they bought.
    """

    name = "itemknn"
    _params = ("neighbours", "shrink")
    _user_state = ()
    supports_sessions = True  # a session scores like a customer who bought its items (the classic baseline)

    def __init__(self, neighbours: int = 100, shrink: float = 10.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        x = self.seen_.astype(np.float32)
        co = (x.T @ x).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
        co = co.tocoo()
        vals = co.data / (norms[co.row] * norms[co.col] + self.shrink)
        sim = sp.csr_matrix((vals.astype(np.float32), (co.row, co.col)), shape=co.shape)
        self.sim_ = _keep_top(sim, self.neighbours)

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return (self.seen_[user_idx] @ self.sim_.T).toarray()

    def _score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        n = len(self.items_)
        rows = np.repeat(np.arange(len(sessions)), [len(np.unique(s)) for s in sessions])
        cols = np.concatenate([np.unique(s) for s in sessions]) if len(sessions) else np.zeros(0, np.int64)
        x = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(sessions), n))
        return (x @ self.sim_.T).toarray()

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        return self.sim_[item_idx].toarray()

    def _state(self) -> dict[str, np.ndarray]:
        return _csr_state("sim", self.sim_)

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict) -> None:
        n = len(self.items_)
        self.sim_ = _csr_from("sim", arrays, (n, n))


def _keep_top(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row."""
    m = m.tocsr()
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        s, e = m.indptr[r], m.indptr[r + 1]
        if e == s:
            continue
        d, c = m.data[s:e], m.indices[s:e]
        if e - s > k:
            keep = np.argpartition(-d, k - 1)[:k]
            d, c = d[keep], c[keep]
        rows.append(np.full(len(c), r, dtype=np.int32))
        cols.append(c)
        vals.append(d)
    if not rows:
        return sp.csr_matrix(m.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape, dtype=np.float32
    )


@register
class EASE(BaseRecommender):
    """EASE (Steck 2019): a closed-form item-item linear model, ``B = I - P / diag(P)`` with
    ``P = (X'X + l2 I)^-1``.

    It needs a dense items x items inverse, so it is fitted on the `max_items` most popular items only;
    the rest score -inf (logged, and reported as ``items_modelled_`` so evaluations can say so).
    """

    name = "ease"
    _params = ("l2", "max_items")
    _user_state = ()

    def __init__(self, l2: float = 200.0, max_items: int = 5000) -> None:
        self.l2 = l2
        self.max_items = max_items

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        x = self.seen_
        pop = np.asarray(x.sum(axis=0)).ravel()
        n_items = x.shape[1]
        active = np.flatnonzero(pop > 0)
        self.items_dropped_ = int(max(len(active) - self.max_items, 0))
        if len(active) > self.max_items:
            active = np.sort(active[np.argsort(-pop[active], kind="stable")[: self.max_items]])
            log.info(
                "EASE: %d items with interactions exceed max_items=%d; modelling the %d most popular only",
                int((pop > 0).sum()),
                self.max_items,
                self.max_items,
            )
        self.active_ = active.astype(np.int64)
        self.items_modelled_ = int(len(active))
        xa = x[:, active]
        g = (xa.T @ xa).toarray().astype(np.float32)  # float32 halves the inversion time; ample with l2 > 0
        g[np.diag_indices_from(g)] += self.l2
        p = np.linalg.inv(g)
        b = p / (-np.diag(p))
        b[np.diag_indices_from(b)] = 0.0
        self.b_ = b.astype(np.float32)
        self._n_items = n_items

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        out = np.full((len(user_idx), len(self.items_)), -np.inf)
        out[:, self.active_] = self.seen_[user_idx][:, self.active_] @ self.b_
        return out

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        out = np.full((len(item_idx), len(self.items_)), -np.inf)
        pos = np.full(len(self.items_), -1)
        pos[self.active_] = np.arange(len(self.active_))
        rows = pos[item_idx]
        ok = rows >= 0
        out[np.ix_(np.flatnonzero(ok), self.active_)] = self.b_[rows[ok]]
        return out

    def _state(self) -> dict[str, np.ndarray]:
        return {"b_": self.b_, "active_": self.active_}

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict) -> None:
        self.b_ = arrays["b_"]
        self.active_ = arrays["active_"]
        self.items_modelled_ = int(len(self.active_))
        self.items_dropped_ = int(extra.get("items_dropped", 0))

    def _extra(self) -> dict:
        return {"items_dropped": self.items_dropped_}


@register
class UserKNN(BaseRecommender):
    """User-based collaborative filtering: cosine similarity between customers' binary histories, shrunk
    towards 0 for customers with little overlap (``co / (|u| |v| + shrink)``), keeping the `neighbours` most
    similar customers of each; a customer's score for an item is the summed similarity of those neighbours
    who have it (Herlocker et al. 1999, without rating normalisation: implicit feedback).

    Similarities are computed in blocks of customers (memory linear in customers x neighbours).
    """

    name = "userknn"
    _params = ("neighbours", "shrink")
    _user_state = ("sim_",)  # rows here; the columns of forgotten customers go in _after_forget

    def __init__(self, neighbours: int = 100, shrink: float = 10.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        x = self.seen_.astype(np.float32).tocsr()
        xt = x.T.tocsr()
        norms = np.sqrt(np.asarray(x.sum(axis=1)).ravel())
        n = x.shape[0]
        block = int(max(1, min(n, 20_000_000 // max(n, 1))))
        parts = []
        for start in range(0, n, block):
            rows = np.arange(start, min(start + block, n))
            co = (x[rows] @ xt).toarray()
            co[np.arange(len(rows)), rows] = 0.0  # a customer is not their own neighbour
            sim = co / (norms[rows, None] * norms[None, :] + self.shrink)
            k = min(self.neighbours, n - 1) if n > 1 else 0
            if k <= 0:
                parts.append(sp.csr_matrix((len(rows), n), dtype=np.float32))
                continue
            top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
            vals = np.take_along_axis(sim, top, axis=1)
            keep = vals > 0
            parts.append(
                sp.csr_matrix((vals[keep].astype(np.float32), (np.nonzero(keep)[0], top[keep])), shape=(len(rows), n))
            )
        self.sim_ = sp.vstack(parts).tocsr() if parts else sp.csr_matrix((0, 0), dtype=np.float32)

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return (self.sim_[user_idx] @ self.seen_).toarray()

    def _after_forget(self, dropped: np.ndarray) -> None:
        keep = np.setdiff1d(np.arange(self.sim_.shape[1]), dropped)
        self.sim_ = self.sim_[:, keep].tocsr()

    def _state(self) -> dict[str, np.ndarray]:
        return _csr_state("sim", self.sim_)

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict) -> None:
        n = len(self.users_)
        self.sim_ = _csr_from("sim", arrays, (n, n))
