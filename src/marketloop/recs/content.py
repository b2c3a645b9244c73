"""Content model: customers and products meet in the space of product-text embeddings.

A product is its text embedding (name, category, brand, description). A customer is the
recency-weighted mean of what they interacted with. This is what serves brand-new products (they have
text before anyone buys them) and a brand-new customer after one click (:meth:`Content.score_items`).
"""

from __future__ import annotations

import numpy as np

from marketloop.recs.base import BaseRecommender, register
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.embeddings import encode

DAY = 86_400.0


@register
class Content(BaseRecommender):
    name = "content"
    _params = ("encoder", "half_life_days", "cache_dir")
    _user_state = ("user_vectors_",)

    def __init__(
        self, encoder: str = "minilm", half_life_days: float = 90.0, cache_dir: str | None = ".marketloop/cache"
    ) -> None:
        self.encoder = encoder
        self.half_life_days = half_life_days
        self.cache_dir = cache_dir

    def _fit(self, interactions: Interactions, catalog: Catalog | None) -> None:
        texts = catalog.text.tolist() if catalog is not None else []
        texts = [
            t if t else f"product {i}" for t, i in zip(texts or [""] * interactions.n_items, self.items_, strict=False)
        ]
        self.item_vectors_ = encode(texts, self.encoder, self.cache_dir)
        import scipy.sparse as sp

        age = (interactions.max_ts - interactions.ts) / DAY
        w = interactions.weight * np.exp2(-age / self.half_life_days)
        m = sp.csr_matrix(
            (w, (interactions.user_idx, interactions.item_idx)), shape=(interactions.n_users, interactions.n_items)
        )
        prof = np.asarray(m @ self.item_vectors_)
        self.user_vectors_ = (prof / (np.linalg.norm(prof, axis=1, keepdims=True) + 1e-9)).astype(np.float32)

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        return self.user_vectors_[user_idx] @ self.item_vectors_.T

    def _similar(self, item_idx: np.ndarray) -> np.ndarray:
        return self.item_vectors_[item_idx] @ self.item_vectors_.T

    def score_items(self, item_idx: np.ndarray) -> np.ndarray:
        """Scores for an anonymous profile made of the given items (e.g. one click)."""
        prof = self.item_vectors_[np.asarray(item_idx)].mean(axis=0)
        return self.item_vectors_ @ prof

    def _state(self) -> dict[str, np.ndarray]:
        return {"item_vectors_": self.item_vectors_, "user_vectors_": self.user_vectors_}
