"""Serving: the recommendation kinds, cold start and business rules over the promoted models.

Kinds: ``for_you`` (personalised; a new customer gets trending items, or content-based ones from the
products they just clicked), ``similar`` (collaborative for known products, content for new ones),
``bought_together`` (association rules), ``trending`` and ``buy_again``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketloop.errors import InputError, NotFoundError
from marketloop.recs.base import BaseRecommender, top_n
from marketloop.recs.data import Catalog
from marketloop.recs.rules import Rules, apply_rules

KINDS = ("for-you", "similar", "bought-together", "trending", "buy-again")
_POOL = 200  # candidates scored before rules cut the list to n


@dataclass
class Recommendations:
    """Promoted models plus the catalogue; every method returns product_id, name, score, source."""

    main: BaseRecommender
    trending_model: BaseRecommender
    catalog: Catalog
    content: BaseRecommender | None = None
    assoc: BaseRecommender | None = None

    def _frame(self, cat_idx: np.ndarray, scores: np.ndarray, source: str) -> pd.DataFrame:
        names = self.catalog.text[cat_idx] if len(cat_idx) else np.array([], dtype=str)
        return pd.DataFrame({
            "product_id": self.catalog.items[cat_idx] if len(cat_idx) else np.array([], dtype=str),
            "name": [str(t).split(". ")[0] for t in names],
            "score": np.round(np.asarray(scores, dtype=float), 6),
            "source": source,
        })

    def _finish(self, scores: np.ndarray, rules: Rules, n: int, bought: np.ndarray | None, source: str,
                model: BaseRecommender) -> pd.DataFrame:
        idx, vals = top_n(scores[None, :], min(_POOL + n, scores.shape[0]))
        idx, vals = idx[0], vals[0]
        ok = idx >= 0
        items = model.items_[idx[ok]]
        cat_idx = self._to_catalog(items)
        keep = cat_idx >= 0
        sel, sv = apply_rules(cat_idx[keep], vals[ok][keep], self.catalog, rules, n,
                              bought=None if bought is None else self._to_catalog(model.items_[bought]))
        return self._frame(sel, sv, source)

    def _to_catalog(self, item_ids: np.ndarray) -> np.ndarray:
        pos = {p: i for i, p in enumerate(self.catalog.items.tolist())}
        return np.array([pos.get(p, -1) for p in np.asarray(item_ids).tolist()], dtype=np.int64)

    # -- kinds ---------------------------------------------------------------------------------
    def for_you(self, customer_id: str | None, n: int = 10, rules: Rules | None = None,
                context_items: list[str] | None = None) -> pd.DataFrame:
        rules = rules or Rules()
        u = int(self.main.user_index(customer_id)[0]) if customer_id is not None else -1
        if u >= 0:
            scores = self.main.score_users(np.array([u]))[0]
            bought = self.main.seen_[u].indices
            return self._finish(scores, rules, n, bought, self.main.name, self.main)
        clicked = [c for c in (context_items or []) if self.content is not None and self.content.item_index(c)[0] >= 0]
        if clicked and self.content is not None:
            scores = self.content.score_items(self.content.item_index(clicked))
            scores[self.content.item_index(clicked)] = -np.inf
            return self._remap(scores, self.content, rules, n, "content (cold start)")
        return self.trending(n, rules, source="trending (cold start)")

    def _remap(self, scores: np.ndarray, model: BaseRecommender, rules: Rules, n: int, source: str) -> pd.DataFrame:
        return self._finish(scores, rules, n, None, source, model)

    def trending(self, n: int = 10, rules: Rules | None = None, source: str = "trending") -> pd.DataFrame:
        scores = self.trending_model.score_users(np.array([0]))[0] if self.trending_model.users_.size else None
        if scores is None:
            raise NotFoundError("the trending model has no data", hint="Retrain with `marketloop recs train`.")
        return self._finish(scores, rules or Rules(exclude_bought=False), n, None, source, self.trending_model)

    def buy_again(self, customer_id: str, n: int = 10, rules: Rules | None = None) -> pd.DataFrame:
        u = int(self.main.user_index(customer_id)[0])
        if u < 0:
            raise NotFoundError(f"customer {customer_id!r} has no purchase history",
                                hint="Check the customer id, or use for-you (cold start).")
        seen = self.main.seen_[u].indices
        scores = np.full(len(self.main.items_), -np.inf)
        scores[seen] = self.main.score_users(np.array([u]))[0][seen]
        r = (rules or Rules()).model_copy(update={"exclude_bought": False})
        return self._finish(scores, r, n, None, "buy again", self.main)

    def similar(self, product_id: str, n: int = 10, rules: Rules | None = None) -> pd.DataFrame:
        rules = rules or Rules(exclude_bought=False)
        for model, label in ((self.main, self.main.name), (self.content, "content")):
            if model is None:
                continue
            i = int(model.item_index(product_id)[0])
            if i < 0 or (model is self.main and self.main.seen_[:, i].nnz == 0 and self.content is not None):
                continue  # a product nobody bought yet is served by its text
            sim_model = getattr(model, "_serving", None)
            base = next(iter(sim_model.models.values())) if sim_model is not None else model
            scores = np.asarray(base._similar(np.array([i])), dtype=float)[0]
            scores[i] = -np.inf
            return self._finish(scores, rules, n, None, label if sim_model is None else f"{label}/{base.name}", base)
        raise NotFoundError(f"product {product_id!r} is not known to the recommendation models",
                            hint="Check the product id, or retrain after loading new products.")

    def bought_together(self, product_id: str, n: int = 10, rules: Rules | None = None) -> pd.DataFrame:
        if self.assoc is None:
            raise NotFoundError("no bought-together model is trained", hint="Run `marketloop recs train`.")
        i = int(self.assoc.item_index(product_id)[0])
        if i < 0:
            raise NotFoundError(f"product {product_id!r} is not known", hint="Check the product id.")
        scores = np.asarray(self.assoc._similar(np.array([i])), dtype=float)[0]
        scores[i] = -np.inf
        return self._finish(scores, rules or Rules(exclude_bought=False), n, None, "bought together", self.assoc)

    def get(self, kind: str, key: str | None, n: int = 10, rules: Rules | None = None) -> pd.DataFrame:
        if kind not in KINDS:
            raise InputError(f"kind {kind!r} is not known (expected one of: {', '.join(KINDS)})",
                             field="kind", value=kind, hint="Use for-you, similar, bought-together, trending or buy-again.")
        if kind == "trending":
            return self.trending(n, rules)
        if key is None:
            raise InputError(f"kind {kind!r} needs a customer or product id", field="key", value=None,
                             hint="Pass the id.")
        return {"for-you": self.for_you, "similar": self.similar, "bought-together": self.bought_together,
                "buy-again": self.buy_again}[kind](key, n, rules)


#: models tried, in order, as the personalised ("for you") model when loading from the registry
MAIN_MODELS = ("hybrid", "ease", "als", "itemknn", "bpr", "buyagain", "pop")


def load_service(store, models_dir) -> Recommendations:  # noqa: ANN001 - Store, Path
    """Recommendations from the promoted models in the registry and the store's products."""
    import sqlalchemy as sa

    from marketloop.recs.registry import ModelRegistry
    from marketloop.store import schema

    reg = ModelRegistry(store, models_dir)
    promoted = {v.name for v in reg.versions() if v.status == "promoted"}
    main_name = next((m for m in MAIN_MODELS if m in promoted), None)
    if main_name is None or "trending" not in promoted:
        raise NotFoundError("no promoted recommendation models in this store",
                            hint="Run `marketloop recs train --db ...` first.")
    main = reg.load_promoted(main_name)
    products = store.read_sql(sa.select(schema.products))
    products["product_id"] = products["product_id"].astype(str)
    catalog = Catalog.from_frame(products, np.union1d(main.items_, products["product_id"].astype(str).to_numpy())
                                 if len(products) else main.items_)
    return Recommendations(
        main=main,
        trending_model=reg.load_promoted("trending"),
        catalog=catalog,
        content=reg.load_promoted("content") if "content" in promoted else None,
        assoc=reg.load_promoted("assoc") if "assoc" in promoted else None,
    )
