"""Serving: the recommendation kinds, cold start and business rules over the promoted models.

Kinds: ``for_you`` (personalised; a new customer gets trending items, or content-based ones from the
products they just clicked), ``similar`` (collaborative for known products, content for new ones),
``bought_together`` (association rules), ``trending`` and ``buy_again``.

Every kind has a ``rank_*`` method returning a :class:`Ranked` list (catalogue positions, scores and
the source) and a DataFrame method of the same name without the prefix. The HTTP service turns a
:class:`Ranked` into plain records with :meth:`Recommendations.records`, which costs microseconds: the
id, name and catalogue maps are built once when the service is loaded, never per request.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketloop.errors import InputError, NotFoundError
from marketloop.recs.base import BaseRecommender, top_row
from marketloop.recs.data import Catalog
from marketloop.recs.rules import Rules, apply_rules

KINDS = ("for-you", "similar", "bought-together", "trending", "buy-again")
_POOL = 200  # candidates scored before rules cut the list to n


@dataclass(frozen=True)
class Ranked:
    """A recommendation list: catalogue positions and scores (best first) and where they came from."""

    idx: np.ndarray
    scores: np.ndarray
    source: str
    model: str  # name of the model that produced the list


def _row(matrix, u: int) -> np.ndarray:  # noqa: ANN001 - scipy CSR
    """Column indices of row `u` of a CSR matrix (slicing the matrix itself costs ~30x more)."""
    return matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]]


@dataclass
class Recommendations:
    """Promoted models plus the catalogue; every kind gives rank, product_id, name, source."""

    main: BaseRecommender
    trending_model: BaseRecommender
    catalog: Catalog
    content: BaseRecommender | None = None
    assoc: BaseRecommender | None = None
    #: ranks products for a live visit (anonymous visitors included) from the session's events
    session: BaseRecommender | None = None
    #: promoted version of each model (name -> version), when loaded from the registry
    versions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        items = self.catalog.items.tolist()
        self._pos = {p: i for i, p in enumerate(items)}
        self._ids = items
        self._names = [str(t).split(". ")[0] for t in self.catalog.text.tolist()]
        self._maps: dict[int, np.ndarray] = {}
        self.catalog.columns  # noqa: B018 - build the per-item lists now, not in the first request
        # products somebody bought (the main model's columns); others are served by their text
        self._has_buyers = np.bincount(self.main.seen_.indices, minlength=len(self.main.items_)) > 0

    def with_catalog(self, catalog: Catalog) -> Recommendations:
        """The same models over a fresh catalogue (prices, stock and visibility change without retraining)."""
        return dataclasses.replace(self, catalog=catalog)

    # -- plumbing --------------------------------------------------------------------------------
    def _catalog_index(self, model: BaseRecommender) -> np.ndarray:
        """Catalogue position of each of `model`'s items (-1 where the catalogue lacks it), built once."""
        found = self._maps.get(id(model))
        if found is None:
            found = np.array([self._pos.get(p, -1) for p in model.items_.tolist()], dtype=np.int64)
            self._maps[id(model)] = found
        return found

    def _finish(
        self,
        idx: np.ndarray,
        vals: np.ndarray,
        rules: Rules,
        n: int,
        bought: np.ndarray | None,
        source: str,
        model: BaseRecommender,
    ) -> Ranked:
        """Apply the rules to `model`'s ranked candidates (its item positions and scores, best first)."""
        to_cat = self._catalog_index(model)
        sel, sv = apply_rules(
            to_cat[idx], vals, self.catalog, rules, n, bought=None if bought is None else to_cat[bought]
        )
        return Ranked(sel, sv, source, model.name)

    def _finish_scores(
        self, scores: np.ndarray, rules: Rules, n: int, bought: np.ndarray | None, source: str, model: BaseRecommender
    ) -> Ranked:
        idx, vals = top_row(scores, _POOL + n)
        return self._finish(idx, vals, rules, n, bought, source, model)

    def records(self, ranked: Ranked) -> list[dict[str, object]]:
        """The list as plain dicts: rank (1 = best), product_id, name, source. The models' raw scores (a
        ranker's margins, often negative, comparable within one list only) stay inside: people and storefronts
        get the order, which is what the scores mean."""
        ids, names, source = self._ids, self._names, ranked.source
        return [
            {"rank": k, "product_id": ids[i], "name": names[i], "source": source}
            for k, i in enumerate(ranked.idx.tolist(), start=1)
        ]

    def frame(self, ranked: Ranked) -> pd.DataFrame:
        """The list as a DataFrame with columns rank, product_id, name, source."""
        return pd.DataFrame(self.records(ranked), columns=["rank", "product_id", "name", "source"])

    # -- kinds, ranked -----------------------------------------------------------------------------
    def rank_for_you(
        self, customer_id: str | None, n: int = 10, rules: Rules | None = None, context_items: list[str] | None = None
    ) -> Ranked:
        rules = rules or Rules()
        u = self.main.user_position(customer_id) if customer_id is not None else -1
        if u >= 0:
            bought = _row(self.main.seen_, u)
            head = None if rules.margin_boost else self.main.head_for_user(u, _POOL + n)
            if head is not None:
                # Without a margin boost the rules keep candidates in rank order and stop at n, so when n of
                # the customer's precomputed list pass, the rest of the ranking cannot change the answer.
                ranked = self._finish(*head, rules, n, bought, self.main.name, self.main)
                if len(ranked.idx) == n:
                    return ranked
            idx, vals = self.main.top_for_user(u, _POOL + n)
            return self._finish(idx, vals, rules, n, bought, self.main.name, self.main)
        if self.content is not None and context_items:
            clicked = self.content.item_index(context_items)
            clicked = clicked[clicked >= 0]
            if len(clicked):
                scores = self.content.score_items(clicked)
                scores[clicked] = -np.inf
                return self._finish_scores(scores, rules, n, None, "content (cold start)", self.content)
        return self.rank_trending(n, rules, source="trending (cold start)")

    def rank_session(self, items: list[str], n: int = 10, rules: Rules | None = None) -> Ranked:
        """Products for a visit that has seen `items` so far (oldest first), from the session model, other
        than those it has seen; a visit with no product the model knows gets trending products."""
        if self.session is None:
            raise NotFoundError(
                "no session model is trained",
                hint="Run `marketloop recs train` on a store whose events carry session ids.",
            )
        seq = self.session.item_index(items)
        seq = seq[seq >= 0]
        if not len(seq):
            return self.rank_trending(n, rules, source="trending (new session)")
        scores = self.session.score_sessions([seq])[0]
        scores[seq] = -np.inf
        return self._finish_scores(scores, rules or Rules(exclude_bought=False), n, None, "session", self.session)

    def rank_trending(self, n: int = 10, rules: Rules | None = None, source: str = "trending") -> Ranked:
        if not self.trending_model.users_.size:
            raise NotFoundError("the trending model has no data", hint="Retrain with `marketloop recs train`.")
        scores = self.trending_model.score_users(np.array([0]))[0]
        return self._finish_scores(scores, rules or Rules(exclude_bought=False), n, None, source, self.trending_model)

    def rank_buy_again(self, customer_id: str, n: int = 10, rules: Rules | None = None) -> Ranked:
        u = self.main.user_position(customer_id)
        if u < 0:
            raise NotFoundError(
                f"customer {customer_id!r} has no purchase history",
                hint="Check the customer id, or use for-you (cold start).",
            )
        seen = _row(self.main.seen_, u)
        scores = np.full(len(self.main.items_), -np.inf)
        scores[seen] = self.main.score_users(np.array([u]))[0][seen]
        r = (rules or Rules()).model_copy(update={"exclude_bought": False})
        return self._finish_scores(scores, r, n, None, "buy again", self.main)

    def rank_similar(self, product_id: str, n: int = 10, rules: Rules | None = None) -> Ranked:
        rules = rules or Rules(exclude_bought=False)
        for model, label in ((self.main, self.main.name), (self.content, "content")):
            if model is None:
                continue
            i = model.item_position(product_id)
            if i < 0 or (model is self.main and not self._has_buyers[i] and self.content is not None):
                continue  # a product nobody bought yet is served by its text
            sim_model = getattr(model, "_serving", None)
            base = next(iter(sim_model.models.values())) if sim_model is not None else model
            scores = np.asarray(base._similar(np.array([i])), dtype=float)[0]
            scores[i] = -np.inf
            ranked = self._finish_scores(
                scores, rules, n, None, label if sim_model is None else f"{label}/{base.name}", base
            )
            return dataclasses.replace(ranked, model=model.name)
        raise NotFoundError(
            f"product {product_id!r} is not known to the recommendation models",
            hint="Check the product id, or retrain after loading new products.",
        )

    def rank_bought_together(self, product_id: str, n: int = 10, rules: Rules | None = None) -> Ranked:
        if self.assoc is None:
            raise NotFoundError("no bought-together model is trained", hint="Run `marketloop recs train`.")
        i = self.assoc.item_position(product_id)
        if i < 0:
            raise NotFoundError(f"product {product_id!r} is not known", hint="Check the product id.")
        scores = np.asarray(self.assoc._similar(np.array([i])), dtype=float)[0]
        scores[i] = -np.inf
        return self._finish_scores(scores, rules or Rules(exclude_bought=False), n, None, "bought together", self.assoc)

    def rank(
        self,
        kind: str,
        key: str | None,
        n: int = 10,
        rules: Rules | None = None,
        context_items: list[str] | None = None,
    ) -> Ranked:
        if kind not in KINDS:
            raise InputError(
                f"kind {kind!r} is not known (expected one of: {', '.join(KINDS)})",
                field="kind",
                value=kind,
                hint="Use for-you, similar, bought-together, trending or buy-again.",
            )
        if kind == "trending":
            return self.rank_trending(n, rules)
        if key is None:
            raise InputError(
                f"kind {kind!r} needs a customer or product id", field="key", value=None, hint="Pass the id."
            )
        if kind == "for-you":
            return self.rank_for_you(key, n, rules, context_items)
        return {
            "similar": self.rank_similar,
            "bought-together": self.rank_bought_together,
            "buy-again": self.rank_buy_again,
        }[kind](key, n, rules)

    def why_empty(self, kind: str, key: str | None, rules: Rules | None = None) -> str:
        """Why a list of ``kind`` for ``key`` came back empty, in words for people (CLI, API, dashboard)."""
        filters = rules is not None and (
            rules.categories or rules.brands or rules.min_price is not None or rules.max_price is not None
        )
        ruled = (
            " The business rules given (category, brand or price filters) may also have removed every candidate."
            if filters
            else ""
        )
        if kind == "bought-together" and self.assoc is not None and key is not None:
            i = self.assoc.item_position(key)
            baskets = int(self.assoc.item_count_[i]) if i >= 0 else 0
            return (
                f"No product is bought together with {key} often enough: it is in {baskets:,} basket(s) (one "
                f"customer's purchases of one day), and a pair needs at least {self.assoc.min_count} baskets holding "
                f"both, with at least {self.assoc.min_confidence:.0%} of {key}'s baskets. Try `recs similar {key}` "
                "(similar items), or retrain once more orders are in." + ruled
            )
        if kind == "buy-again":
            return f"Customer {key} has no past purchase left to offer again (none, or all filtered out).{ruled}"
        if kind == "similar":
            return f"No product is similar enough to {key} after the business rules." + ruled
        return "Every candidate was removed by the business rules (already bought, out of stock, hidden, filters)."

    # -- kinds, as DataFrames ----------------------------------------------------------------------
    def for_you(
        self, customer_id: str | None, n: int = 10, rules: Rules | None = None, context_items: list[str] | None = None
    ) -> pd.DataFrame:
        return self.frame(self.rank_for_you(customer_id, n, rules, context_items))

    def trending(self, n: int = 10, rules: Rules | None = None, source: str = "trending") -> pd.DataFrame:
        return self.frame(self.rank_trending(n, rules, source))

    def buy_again(self, customer_id: str, n: int = 10, rules: Rules | None = None) -> pd.DataFrame:
        return self.frame(self.rank_buy_again(customer_id, n, rules))

    def similar(self, product_id: str, n: int = 10, rules: Rules | None = None) -> pd.DataFrame:
        return self.frame(self.rank_similar(product_id, n, rules))

    def bought_together(self, product_id: str, n: int = 10, rules: Rules | None = None) -> pd.DataFrame:
        return self.frame(self.rank_bought_together(product_id, n, rules))

    def get(self, kind: str, key: str | None, n: int = 10, rules: Rules | None = None) -> pd.DataFrame:
        return self.frame(self.rank(kind, key, n, rules))


#: models tried, in order, as the personalised ("for you") model when loading from the registry
MAIN_MODELS = ("hybrid", "ease", "als", "itemknn", "bpr", "twotower", "userknn", "buyagain", "pop")
#: models tried, in order, as the session model (live visits)
SESSION_MODELS = ("sasrec-session", "sknn")


def read_catalog(store, items: np.ndarray) -> Catalog:  # noqa: ANN001 - Store
    """The store's products aligned to `items` plus every product the store knows."""
    import sqlalchemy as sa

    from marketloop.store import schema

    products = store.read_sql(sa.select(schema.products))
    products["product_id"] = products["product_id"].astype(str)
    products = products.merge(stock_cover(store), on="product_id", how="left")
    universe = np.union1d(items, products["product_id"].to_numpy()) if len(products) else items
    return Catalog.from_frame(products, universe)


def stock_cover(store) -> pd.DataFrame:  # noqa: ANN001 - Store
    """Days of cover per product from the store's ``stock_cover`` table (written with the forecasts)."""
    import sqlalchemy as sa

    from marketloop.store import schema

    c = schema.stock_cover
    cover = store.read_sql(sa.select(c.c.product_id, c.c.days_of_cover))
    cover["product_id"] = cover["product_id"].astype(str)
    cover["days_of_cover"] = pd.to_numeric(cover["days_of_cover"], errors="coerce")
    return cover


def load_service(store, models_dir) -> Recommendations:  # noqa: ANN001 - Store, Path
    """Recommendations from the promoted models in the registry and the store's products."""
    from marketloop.recs.base import load_model
    from marketloop.recs.registry import ModelRegistry

    promoted = {v.name: v for v in ModelRegistry(store, models_dir).versions() if v.status == "promoted"}
    main_name = next((m for m in MAIN_MODELS if m in promoted), None)
    if main_name is None or "trending" not in promoted:
        raise NotFoundError(
            "no promoted recommendation models in this store", hint="Run `marketloop recs train --db ...` first."
        )
    session_name = next((m for m in SESSION_MODELS if m in promoted), None)
    used = [main_name, "trending", *(name for name in ("content", "assoc", session_name) if name in promoted)]
    models = {name: load_model(promoted[name].path) for name in used}
    main = models[main_name]
    return Recommendations(
        main=main,
        trending_model=models["trending"],
        catalog=read_catalog(store, main.items_),
        content=models.get("content"),
        assoc=models.get("assoc"),
        session=models.get(session_name) if session_name else None,
        versions={name: promoted[name].version for name in used},
    )
