"""Business rules applied after scoring, in a fixed order: eligibility filters, then the margin boost,
then diversity. Each rule is an option of :class:`Rules` (a pydantic model: unknown options are errors).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from marketloop.recs.data import Catalog


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exclude_bought: bool = Field(True, description="Drop products the customer already bought...")
    rebuy_categories: list[str] = Field(default_factory=list, description="...except in these categories (consumables).")
    exclude_out_of_stock: bool = Field(True, description="Drop products whose stock is 0 or less (unknown stock passes).")
    exclude_hidden: bool = Field(True, description="Drop hidden products.")
    categories: list[str] | None = Field(None, description="Keep only these categories.")
    brands: list[str] | None = Field(None, description="Keep only these brands.")
    min_price: float | None = Field(None, ge=0)
    max_price: float | None = Field(None, ge=0)
    exclude_items: list[str] = Field(default_factory=list, description="Per-request exclude list.")
    max_per_category: int | None = Field(None, ge=1, description="Diversity: at most this many per category.")
    margin_boost: float = Field(0.0, ge=0, description="Re-rank by rank score + boost x margin rate (0 = off).")


def _member(idx: np.ndarray, among: np.ndarray, size: int) -> np.ndarray:
    """Whether each catalogue position in `idx` is in `among` (a mask over the catalogue: several times
    faster than ``np.isin`` on the short lists serving sees). Negative positions in `among` are ignored."""
    mask = np.zeros(size, dtype=bool)
    mask[among[among >= 0]] = True
    return mask[idx]


def apply_rules(
    item_idx: np.ndarray,
    scores: np.ndarray,
    catalog: Catalog,
    rules: Rules,
    n: int,
    bought: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Filter and re-order ranked candidates (best first); return the first `n` that pass."""
    item_idx = np.asarray(item_idx, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    keep = np.ones(len(item_idx), dtype=bool)
    cat = catalog.category[item_idx]
    if rules.exclude_bought and bought is not None and len(bought):
        was = _member(item_idx, np.asarray(bought, dtype=np.int64), len(catalog.items))
        keep &= (~was | np.isin(cat, rules.rebuy_categories)) if rules.rebuy_categories else ~was
    if rules.exclude_out_of_stock:
        stock = catalog.stock[item_idx]
        keep &= ~(stock <= 0)  # NaN (unknown) passes
    if rules.exclude_hidden:
        keep &= ~catalog.hidden[item_idx]
    if rules.categories is not None:
        keep &= np.isin(cat, rules.categories)
    if rules.brands is not None:
        keep &= np.isin(catalog.brand[item_idx], rules.brands)
    price = catalog.price[item_idx]
    if rules.min_price is not None:
        keep &= price >= rules.min_price
    if rules.max_price is not None:
        keep &= price <= rules.max_price
    if rules.exclude_items:
        keep &= ~np.isin(catalog.items[item_idx], rules.exclude_items)
    item_idx, scores, cat = item_idx[keep], scores[keep], cat[keep]
    if rules.margin_boost > 0 and len(item_idx):
        rank_score = 1.0 - np.arange(len(item_idx)) / len(item_idx)
        p, c = catalog.price[item_idx], catalog.cost[item_idx]
        margin = np.nan_to_num((p - c) / p, nan=0.0)
        order = np.argsort(-(rank_score + rules.margin_boost * margin), kind="stable")
        item_idx, scores, cat = item_idx[order], scores[order], cat[order]
    if rules.max_per_category is not None:
        taken: dict[str, int] = {}
        ok = np.zeros(len(item_idx), dtype=bool)
        for j, c in enumerate(cat.tolist()):
            if taken.get(c, 0) < rules.max_per_category:
                taken[c] = taken.get(c, 0) + 1
                ok[j] = True
        item_idx, scores = item_idx[ok], scores[ok]
    return item_idx[:n], scores[:n]
