"""The synthetic catalogue: products in categories with brands, prices, costs, stock and text.

Products are laid out grouped by category so that sampling "a product of category c" for millions
of events is one ``searchsorted`` over a cumulative weight table (see :meth:`Catalog.sample`).
Each product also has hidden traits the store tables never show: ``quality`` (drives ratings and
returns) and ``popularity`` (drives how often it is viewed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from marketloop.sim import text
from marketloop.sim.tables import prefixed_ids, to_table

CURRENCY = "USD"
#: How strongly price-sensitive shoppers prefer the cheaper products of a category.
PRICE_TILT = 1.5
#: Share of products launched during the generated window.
NEW_SHARE = 0.05


@dataclass
class Catalog:
    categories: tuple[text.CategorySpec, ...]
    product_ids: pa.Array  # string, one per product, in category order
    category: np.ndarray  # int16 category index per product
    price: np.ndarray
    cost: np.ndarray
    quality: np.ndarray  # hidden
    popularity: np.ndarray  # hidden, sums to 1 within each category
    names: list[str]
    brands: list[str]
    colours: list[str]
    materials: list[str]
    nouns: list[str]
    uses: list[str]
    features: list[str]
    table: pa.Table  # the public products table
    _start: np.ndarray  # first product of each category
    _count: np.ndarray  # products per category
    _alias_prob: np.ndarray  # 2 x products: alias tables (neutral, price-sensitive)
    _alias: np.ndarray
    launch_day: np.ndarray  # days from the window start (negative: launched before it)
    fallback: np.ndarray  # product shown instead while a product is not launched yet
    queries: pa.Array  # search texts
    query_start: np.ndarray  # first query index per category
    query_count: np.ndarray

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    @property
    def category_names(self) -> list[str]:
        return [c.name for c in self.categories]

    def sample(self, category: np.ndarray, sensitive: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Product index per row: a product of ``category`` drawn by popularity (tilted to cheap
        products where ``sensitive``), from two uniform numbers per row (alias method: O(1))."""
        table = np.where(sensitive, 1, 0)
        slot = self._start[category] + np.minimum(
            (u * self._count[category]).astype(np.int64), self._count[category] - 1
        )
        keep = v < self._alias_prob[table, slot]
        return np.where(keep, slot, self._alias[table, slot]).astype(np.int32)

    def truth_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "product_id": self.product_ids.to_pandas(),
                "launch_day": self.launch_day,
                "category": [self.categories[c].name for c in self.category],
                "quality": self.quality,
                "popularity": self.popularity,
            }
        )


def _alias_tables(category: np.ndarray, weight: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias tables, one per category, laid side by side (Vose's construction).

    numpy has no vectorised sampler for many small discrete distributions at once; with alias tables
    each draw is two gathers, which matters for the tens of millions of product views generated.
    """
    prob = np.ones(len(weight))
    alias = np.arange(len(weight))
    starts = np.r_[0, np.cumsum(np.bincount(category, minlength=n_categories))]
    for c in range(n_categories):
        lo, hi = int(starts[c]), int(starts[c + 1])
        scaled = (weight[lo:hi] / weight[lo:hi].sum() * (hi - lo)).tolist()
        small = [i for i, x in enumerate(scaled) if x < 1.0]
        large = [i for i, x in enumerate(scaled) if x >= 1.0]
        while small and large:
            s, g = small.pop(), large[-1]
            prob[lo + s] = scaled[s]
            alias[lo + s] = lo + g
            scaled[g] -= 1.0 - scaled[s]
            if scaled[g] < 1.0:
                small.append(large.pop())
        for i in small + large:
            prob[lo + i] = 1.0
    return prob, alias


def build_catalog(n_products: int, rng: np.random.Generator, start: datetime, days: int = 0) -> Catalog:
    """Create ``n_products`` products spread over the categories (every used category gets one).

    About ``NEW_SHARE`` of them launch during the ``days``-day window (never a category's first
    product); before its launch a product is never shown, its views go to an older product of the
    same category (``fallback``), so new products start cold and catch up.
    """
    cats = text.CATEGORIES[: max(1, min(len(text.CATEGORIES), n_products))]
    k = len(cats)
    weights = np.array([c.weight for c in cats])
    counts = np.ones(k, dtype=np.int64) + rng.multinomial(n_products - k, weights / weights.sum())
    category = np.repeat(np.arange(k, dtype=np.int16), counts)

    median = np.array([c.price_median for c in cats])[category]
    sigma = np.array([c.price_sigma for c in cats])[category]
    raw = median * np.exp(sigma * rng.standard_normal(n_products))
    price = np.where(raw >= 5, np.round(raw) - 0.01, np.round(raw, 1) + 0.09)
    price = np.maximum(price, 1.99)
    ratio = np.clip(np.array([c.cost_ratio for c in cats])[category] + 0.07 * rng.standard_normal(n_products), 0.2, 0.9)
    cost = np.round(price * ratio, 2)
    quality = rng.standard_normal(n_products)
    pop = np.exp(1.1 * rng.standard_normal(n_products) + 0.3 * quality)
    popularity = pop / np.bincount(category, weights=pop, minlength=k)[category]
    tilted = popularity * (price / median) ** (-PRICE_TILT)
    neutral, tilted_tables = _alias_tables(category, popularity, k), _alias_tables(category, tilted, k)

    stock = rng.negative_binomial(2, 0.03, n_products).astype(np.int32)
    stock[rng.random(n_products) < 0.08] = 0
    hidden = rng.random(n_products) < 0.02
    age_days = rng.integers(1, 730, n_products).astype(np.float64)

    brand_pool = [f"{h} {t}" for h in text.BRAND_HEADS for t in text.BRAND_TAILS]
    brand_idx = (
        rng.choice(len(brand_pool), size=max(4, k * 4), replace=False)
        if len(brand_pool) >= k * 4
        else np.arange(len(brand_pool))
    )
    names, brands, colours, materials, nouns, uses, features, descriptions = [], [], [], [], [], [], [], []
    picks = rng.integers(0, 1 << 30, size=(n_products, 7))
    for i in range(n_products):  # one pass per product (not per event): builds readable text
        spec = cats[category[i]]
        p = picks[i]
        brand = brand_pool[brand_idx[(category[i] * 4 + p[0] % 4) % len(brand_idx)]]
        colour = text.COLOURS[p[1] % len(text.COLOURS)]
        material = spec.materials[p[2] % len(spec.materials)]
        noun = spec.nouns[p[3] % len(spec.nouns)]
        use = spec.uses[p[4] % len(spec.uses)]
        f1 = spec.features[p[5] % len(spec.features)]
        f2 = spec.features[(p[5] + 1 + p[6] % (len(spec.features) - 1)) % len(spec.features)]
        names.append(f"{brand} {colour} {material.title()} {noun}")
        template = p[6] % 3
        if template == 0:
            desc = f"A {colour.lower()} {noun.lower()} in {material}, made for {use}. It has {f1} and {f2}."
        elif template == 1:
            desc = f"Designed by {brand} for {use}: this {noun.lower()} pairs {material} with {f1}. Also features {f2}."
        else:
            desc = (
                f"Our {material} {noun.lower()} in {colour.lower()}. Features {f1}; ideal for {use}. Comes with {f2}."
            )
        descriptions.append(desc)
        brands.append(brand)
        colours.append(colour)
        materials.append(material)
        nouns.append(noun)
        uses.append(use)
        features.append(f1)

    first_of_category = np.r_[True, category[1:] != category[:-1]]
    launches = (rng.random(n_products) < NEW_SHARE) & ~first_of_category & (days > 0)
    launch_day = np.where(launches, rng.random(n_products) * max(days, 1), -age_days)
    # Fallback of every product: the most popular product of its category that exists from the start.
    older = np.where(launches, -1.0, popularity)
    fallback = np.empty(n_products, dtype=np.int32)
    for c in range(k):
        members = np.flatnonzero(category == c)
        fallback[members] = members[np.argmax(older[members])]
    fallback[~launches] = np.flatnonzero(~launches)

    product_ids = prefixed_ids("P", np.arange(1, n_products + 1), max(6, len(str(n_products))))
    table = to_table(
        "products",
        {
            "product_id": product_ids,
            "name": names,
            "description": descriptions,
            "category": [cats[c].name for c in category],
            "brand": brands,
            "price": price,
            "cost": cost,
            "currency": [CURRENCY] * n_products,
            "stock": stock,
            "is_product": np.ones(n_products, dtype=bool),
            "hidden": hidden,
            "created_at": pa.array(np.datetime64(start, "us") + (launch_day * 86_400e6).astype("timedelta64[us]")),
        },
    )

    queries, q_start, q_count = [], [], []
    for spec in cats:
        q_start.append(len(queries))
        for noun in spec.nouns:
            for j, mod in enumerate(text.SEARCH_MODIFIERS[:4]):
                colour = text.COLOURS[(j * 5 + len(noun)) % len(text.COLOURS)].lower() if j % 2 else ""
                queries.append(" ".join(w for w in (mod, colour, noun.lower()) if w))
        q_count.append(len(queries) - q_start[-1])

    return Catalog(
        categories=cats,
        product_ids=product_ids,
        category=category,
        price=price,
        cost=cost,
        quality=quality,
        popularity=popularity,
        names=names,
        brands=brands,
        colours=colours,
        materials=materials,
        nouns=nouns,
        uses=uses,
        features=features,
        table=table,
        _start=np.r_[0, np.cumsum(counts)[:-1]],
        _count=counts,
        _alias_prob=np.stack([neutral[0], tilted_tables[0]]),
        _alias=np.stack([neutral[1], tilted_tables[1]]),
        launch_day=launch_day,
        fallback=fallback,
        queries=pa.array(queries, type=pa.string()),
        query_start=np.array(q_start),
        query_count=np.array(q_count),
    )
