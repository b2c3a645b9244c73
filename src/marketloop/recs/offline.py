"""Offline evaluation runs: read, split, fit each model, time it and score it on a full ranking."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from marketloop.errors import InputError
from marketloop.recs.base import BaseRecommender, model_class, model_names
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.evaluation import ranking_metrics, split
from marketloop.recs.sources import InteractionFrame

log = logging.getLogger(__name__)
DEFAULT_MODELS = ("pop", "buyagain", "itemknn", "als", "bpr", "ease", "content", "sasrec", "hybrid")


def parse_models(text: str) -> list[str]:
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    known = set(model_names())
    bad = [m for m in names if m not in known]
    if bad or not names:
        raise InputError(
            f"unknown model(s) {', '.join(map(repr, bad)) or '(none given)'} (expected a comma-separated list of: "
            f"{', '.join(sorted(known))})",
            field="models",
            value=text,
            hint="For example --models pop,als,ease,hybrid.",
        )
    return names


def make_model(name: str, **context: object) -> BaseRecommender:
    """A model with defaults suited to the run (`val_days`, `min_rating` and `encoder` for those using them)."""
    cls = model_class(name)
    params = {k: v for k, v in context.items() if k in cls._params and v is not None}
    return cls(**params)


@dataclass
class EvalResult:
    protocol: str
    k: int
    info: dict
    rows: list[dict] = field(default_factory=list)
    fitted: dict[str, BaseRecommender] = field(default_factory=dict, repr=False)
    split: object = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"protocol": self.protocol, "k": self.k, "split": self.info, "models": self.rows}


def evaluate_models(
    data: InteractionFrame,
    models: list[str],
    *,
    protocol: str = "temporal",
    k: int = 10,
    test_days: float = 30.0,
    test_frac: float = 0.25,
    min_rating: float | None = None,
    encoder: str = "minilm",
    cache_dir: str | None = ".marketloop/cache",
    on_model: Callable[[str], None] | None = None,
    keep_models: bool = False,
) -> EvalResult:
    """Fit and score each model on one split; `keep_models` keeps the fitted models (for benchmarks)."""
    if k < 1:
        raise InputError(f"k must be at least 1, got {k!r}", field="k", value=k, hint="Use e.g. --k 10.")
    inter = Interactions.from_frame(data.frame, user_col="user", item_col="item", time_col="ts", weight_col="rating")
    catalog = Catalog.from_frame(data.products, inter.items)
    if min_rating is None:
        min_rating = data.default_min_rating
    sp_ = split(inter, protocol, test_days=test_days, test_frac=test_frac, min_rating=min_rating)
    if len(sp_.users) == 0:
        raise InputError(
            "the split left no customer with both training history and test interactions",
            field="protocol",
            value=protocol,
            hint="Use a longer --test-days or another protocol.",
        )
    span_days = (sp_.train.max_ts - sp_.train.ts.min()) / 86_400
    val_days = test_days if protocol == "temporal" else max(1.0, min(30.0, span_days / 6))
    context = {"val_days": val_days, "min_rating": min_rating, "encoder": encoder, "cache_dir": cache_dir}
    result = EvalResult(
        protocol,
        k,
        {
            **sp_.info,
            "exclude_seen": sp_.exclude_seen,
            "min_rating": min_rating,
            "items": inter.n_items,
            "users": inter.n_users,
            "events": len(inter),
        },
    )
    for name in models:
        if on_model:
            on_model(name)
        model = make_model(name, **context)
        start = time.perf_counter()
        model.fit(sp_.train, catalog)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        metrics = ranking_metrics(lambda u, m=model: m.score_users(u), sp_, k=k)
        row = {
            "model": name,
            **metrics,
            "train_seconds": round(seconds, 3),
            "score_seconds": round(time.perf_counter() - start, 3),
        }
        if getattr(model, "items_dropped_", 0):
            row["note"] = (
                f"EASE modelled the {model.items_modelled_} most popular items; "
                f"{model.items_dropped_} items with interactions were left out (max_items)"
            )
        result.rows.append(row)
        if keep_models:
            result.fitted[name] = model
            result.split = sp_
        log.info("%s: %s", name, row)
    return result
