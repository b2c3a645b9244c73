"""`recs train`: fit the served models on the store's data and register (and promote) them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from marketloop.errors import InputError
from marketloop.recs.association import AssociationRules
from marketloop.recs.base import model_class
from marketloop.recs.content import Content
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.popularity import Trending
from marketloop.recs.registry import ModelRegistry, ModelVersion
from marketloop.recs.sources import store_interactions

log = logging.getLogger(__name__)


def train_from_store(
    store,  # noqa: ANN001 - Store
    models_dir,  # noqa: ANN001
    *,
    model: str = "hybrid",
    encoder: str = "minilm",
    cache_dir: str | None = None,
    val_days: float = 30.0,
    promote: bool = True,
    on_step: Callable[[str], None] | None = None,
    gate: dict | None = None,
) -> list[ModelVersion]:
    """Train the served model and its companions; ``gate``: the promotion gate's figures
    (``recs/gate.py``), recorded with the main model's version."""
    data = store_interactions(store)
    if data.frame.empty:
        raise InputError(
            "the store has no orders or behaviour events to learn from",
            field="db",
            value=str(store.url),
            hint="Load data first: marketloop ingest / import ...",
        )
    items = data.products["product_id"].astype(str).to_numpy() if len(data.products) else None
    inter = Interactions.from_frame(data.frame, weight_col="rating", items=items)
    catalog = Catalog.from_frame(data.products, inter.items)
    snapshot = inter.snapshot()
    reg = ModelRegistry(store, models_dir)
    step = on_step or (lambda _s: None)
    step(model)
    try:
        params = {"val_days": val_days, "min_rating": 4.0} if model == "hybrid" else {}  # learn from purchases
        main = model_class(model)(**params).fit(inter, catalog)
        if model == "hybrid":
            step("hybrid: ranking every customer once for serving")
            main.precompute()
    except InputError as exc:
        if model != "hybrid":
            raise
        log.warning("hybrid could not be trained (%s); falling back to ALS", exc.message)
        step("als (fallback)")
        main = model_class("als")().fit(inter, catalog)
    fitted = [main]
    step("trending")
    fitted.append(Trending().fit(inter, catalog))
    step("content")
    fitted.append(Content(encoder=encoder, cache_dir=cache_dir).fit(inter, catalog))
    step("bought together")
    purchases = inter.select(inter.weight >= 4.0)
    fitted.append(AssociationRules().fit(purchases if len(purchases) else inter, catalog))
    out = []
    for m in fitted:
        metrics = {"fit_seconds": round(m.fit_seconds_, 3)}
        if gate is not None and m is main:
            metrics["gate"] = gate
        version = reg.register(m, snapshot, metrics)
        if promote:
            version = reg.promote(m.name, version.version)
        out.append(version)
    return out
