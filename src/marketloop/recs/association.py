"""Bought together: association rules (support, confidence, lift) over baskets.

A basket is everything one customer bought on one day (orders placed minutes apart usually belong
together). For a product A, the rules A -> B are ranked by lift, keeping those with at least
`min_count` co-occurring baskets and `min_confidence`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from marketloop.recs.base import BaseRecommender, register
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.neighbours import _csr_from, _csr_state

DAY = 86_400


@register
class AssociationRules(BaseRecommender):
    name = "assoc"
    _params = ("min_count", "min_confidence")
    _user_state = ()  # baskets are counted per item pair; only the seen matrix is per customer

    def __init__(self, min_count: int = 3, min_confidence: float = 0.05) -> None:
        self.min_count = min_count
        self.min_confidence = min_confidence

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        basket = pd.factorize(pd.Series(interactions.user_idx.astype(np.int64) * 100_000 + interactions.ts // DAY))[0]
        b = sp.csr_matrix(
            (np.ones(len(basket), np.float32), (basket, interactions.item_idx)),
            shape=(int(basket.max()) + 1 if len(basket) else 0, interactions.n_items),
        )
        b.data[:] = 1.0
        b.sum_duplicates()
        b.data[:] = 1.0
        self.n_baskets_ = int(b.shape[0])
        self.item_count_ = np.asarray(b.sum(axis=0)).ravel()
        co = (b.T @ b).tocoo()
        off = (co.row != co.col) & (co.data >= self.min_count)
        r, c, n = co.row[off], co.col[off], co.data[off]
        conf = n / self.item_count_[r]
        lift = conf / (self.item_count_[c] / max(self.n_baskets_, 1))
        keep = conf >= self.min_confidence
        shape = (interactions.n_items, interactions.n_items)
        self.count_ = sp.csr_matrix((n[keep], (r[keep], c[keep])), shape=shape)
        self.lift_ = sp.csr_matrix((lift[keep], (r[keep], c[keep])), shape=shape)

    def rules(self, item_id: str, n: int = 10) -> pd.DataFrame:
        """Rules item -> other with support, confidence and lift, best lift first."""
        i = int(self.item_index(item_id)[0])
        cols = ["antecedent", "consequent", "support", "confidence", "lift", "baskets"]
        if i < 0:
            return pd.DataFrame(columns=cols)
        row_c, row_l = self.count_[i], self.lift_[i]
        order = np.argsort(-row_l.data, kind="stable")[:n]
        cnt = row_c.toarray().ravel()[row_l.indices[order]]
        return pd.DataFrame(
            {
                "antecedent": item_id,
                "consequent": self.items_[row_l.indices[order]],
                "support": cnt / self.n_baskets_,
                "confidence": cnt / self.item_count_[i],
                "lift": row_l.data[order],
                "baskets": cnt.astype(int),
            }
        )[cols]

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return (self.seen_[user_idx] @ self.lift_).toarray()

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        out = self.lift_[item_idx].toarray()
        out[out == 0] = -np.inf
        return out

    def _state(self) -> dict[str, np.ndarray]:
        return {
            **_csr_state("count", self.count_),
            **_csr_state("lift", self.lift_),
            "item_count_": self.item_count_,
            "n_baskets_": np.array(self.n_baskets_),
        }

    def _set_state(self, arrays: dict[str, np.ndarray], extra: dict) -> None:
        shape = (len(self.items_), len(self.items_))
        self.count_ = _csr_from("count", arrays, shape)
        self.lift_ = _csr_from("lift", arrays, shape)
        self.item_count_ = arrays["item_count_"]
        self.n_baskets_ = int(arrays["n_baskets_"])
