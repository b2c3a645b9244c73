"""Gated retraining: a retrained recommender replaces the served one only if it is not worse.

:func:`gated_retrain` is what the scheduled ``recs`` job runs:

1. The latest window (the last ``window_days`` of the store's interactions) is held out, exactly as the
   temporal protocol of ``marketloop eval recs`` does: relevance = the products each customer with earlier
   history bought in the window.
2. The *challenger* (the same model class, trained the way ``recs train`` trains it) is fitted on the data
   before the window and scored on it; the *champion* (the promoted version) is scored on the same window,
   its own item and customer indices aligned to the split's. A champion trained on part of the window has
   seen some of its answers, which can only favour it: the gate errs on the side of keeping what serves.
3. Promotion is decided on one metric (default NDCG@10): the challenger passes unless its value is more than
   ``tolerance`` (a share, default 5 %) below the champion's. A passing challenger is trained again on all
   the data (including the window) through ``recs train``'s path, registered with the gate's figures and
   promoted together with the companion models (trending, content, bought together); a failing one is not
   registered and the champion keeps serving.

Without a champion (a first training) there is nothing to compare with: the challenger is scored, trained
on everything and promoted. When the interactions are those the champion was trained on, nothing is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from marketloop.errors import InputError, NotFoundError
from marketloop.recs.base import BaseRecommender, model_class
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.evaluation import ranking_metrics, split
from marketloop.recs.registry import ModelRegistry
from marketloop.recs.sources import store_interactions

log = logging.getLogger(__name__)


@dataclass
class GateResult:
    """``decision``: promoted (challenger won or no champion), kept (challenger worse), skipped (no new data)."""

    decision: str
    model: str
    metric: str
    tolerance: float
    window_days: float
    candidate: dict[str, float] = field(default_factory=dict)
    current: dict[str, float] = field(default_factory=dict)
    current_version: int | None = None
    promoted_version: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "model": self.model,
            "metric": self.metric,
            "tolerance": self.tolerance,
            "window_days": self.window_days,
            "candidate": self.candidate,
            "current": self.current,
            "current_version": self.current_version,
            "promoted_version": self.promoted_version,
            "reason": self.reason,
        }


def aligned_scorer(model: BaseRecommender, train: Interactions) -> Callable[[np.ndarray], np.ndarray]:
    """Score function over ``train``'s user and item indices for a model fitted on other data: its scores
    reordered to the split's items (items it does not know score -inf), zeros for customers it does not know."""
    users = model.user_index(train.users)
    items = model.item_index(train.items)
    known_items = items >= 0

    def score(user_idx: np.ndarray) -> np.ndarray:
        out = np.full((len(user_idx), train.n_items), -np.inf)
        mine = users[user_idx]
        rows = np.flatnonzero(mine >= 0)
        out[np.flatnonzero(mine < 0)] = 0.0  # unknown to the model: no preference at all
        if len(rows):
            scores = model.score_users(mine[rows])
            block = np.full((len(rows), train.n_items), -np.inf)
            block[:, known_items] = scores[:, items[known_items]]
            out[rows] = block
        return out

    return score


def _params(name: str, window_days: float) -> dict:
    return {"val_days": window_days, "min_rating": 4.0} if name == "hybrid" else {}


def gated_retrain(
    store: Any,
    models_dir: Any,
    *,
    model: str = "hybrid",
    window_days: float = 14.0,
    metric: str = "ndcg@10",
    tolerance: float = 0.05,
    encoder: str = "minilm",
    cache_dir: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> GateResult:
    """Retrain ``model`` and promote it only if it passes the gate (see the module docstring)."""
    from marketloop.recs.training import train_from_store

    step = on_step or (lambda _s: None)
    k = int(metric.split("@", 1)[1]) if "@" in metric else 10
    data = store_interactions(store)
    if data.frame.empty:
        raise InputError(
            "the store has no orders or behaviour events to learn from",
            field="db",
            value=str(getattr(store, "url", "")),
            hint="Load data first: marketloop ingest / import ...",
        )
    items = data.products["product_id"].astype(str).to_numpy() if len(data.products) else None
    inter = Interactions.from_frame(data.frame, weight_col="rating", items=items)
    catalog = Catalog.from_frame(data.products, inter.items)
    registry = ModelRegistry(store, models_dir)
    result = GateResult("promoted", model, metric, tolerance, window_days)
    try:
        champion_version = registry.promoted(model)
    except NotFoundError:
        champion_version = None
    if champion_version is not None:
        result.current_version = champion_version.version
        if champion_version.data.get("sha256") == inter.snapshot()["sha256"]:
            result.decision, result.reason = "skipped", "no new interactions since the current model was trained"
            return result
    sp = split(inter, "temporal", test_days=window_days, min_rating=4.0)
    if len(sp.users) == 0:
        result.reason = "the latest window has no customer with earlier history: promoted without a comparison"
    else:
        step(f"{model}: challenger on the data before the latest {window_days:g} days")
        challenger = model_class(model)(**_params(model, window_days)).fit(sp.train, catalog)
        result.candidate = ranking_metrics(challenger.score_users, sp, k=k)
        if metric not in result.candidate:
            raise InputError(
                f"recs_gate_metric {metric!r} is not a ranking metric (known: {', '.join(result.candidate)})",
                field="recs_gate_metric",
                value=metric,
                hint="Use ndcg@10, recall@10, precision@10, map@10 or mrr.",
            )
        if champion_version is not None:
            step(f"{model}: current v{champion_version.version} on the same window")
            champion = registry.load_promoted(model)
            result.current = ranking_metrics(aligned_scorer(champion, sp.train), sp, k=k)
            new, old = result.candidate[metric], result.current[metric]
            floor = old * (1 - tolerance)
            if new < floor:
                result.decision = "kept"
                result.reason = (
                    f"{metric} {new:.4f} is more than {tolerance:.0%} below the current model's {old:.4f} "
                    f"(floor {floor:.4f}): v{champion_version.version} keeps serving"
                )
                return result
            result.reason = f"{metric} {new:.4f} vs the current model's {old:.4f} (floor {floor:.4f}): promoted"
        else:
            result.reason = f"first model: {metric} {result.candidate[metric]:.4f} on the latest window; promoted"
    step(f"{model}: training on all the data")
    versions = train_from_store(
        store,
        models_dir,
        model=model,
        encoder=encoder,
        cache_dir=cache_dir,
        val_days=window_days,
        promote=True,
        on_step=step,
        gate=result.as_dict(),
    )
    result.promoted_version = next((v.version for v in versions if v.name == model), versions[0].version)
    return result
