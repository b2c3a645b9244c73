"""Offline evaluation runs: read, split, fit each model, time it, watch its memory and score it on a full
ranking (customers), or on every step of the test sessions (the session protocol)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from marketloop.errors import InputError
from marketloop.recs.base import BaseRecommender, model_class, model_names, session_model_names
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.evaluation import (
    ranking_metrics,
    rating_metrics,
    session_metrics,
    session_split,
    sessionize,
    split,
)
from marketloop.recs.features import SESSION_GAP_SECONDS
from marketloop.recs.sources import InteractionFrame

log = logging.getLogger(__name__)
DEFAULT_MODELS = ("pop", "buyagain", "itemknn", "als", "bpr", "ease", "content", "sasrec", "hybrid")
DEFAULT_SESSION_MODELS = ("pop", "itemknn", "sknn", "sasrec-session")


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


def parse_params(pairs: list[str] | None) -> dict[str, dict[str, object]]:
    """``MODEL.PARAM=VALUE`` settings (VALUE read as JSON when it parses, else as text) per model."""
    out: dict[str, dict[str, object]] = {}
    for pair in pairs or []:
        key, eq, raw = pair.partition("=")
        model, dot, param = key.strip().partition(".")
        if not eq or not dot or not model or not param:
            raise InputError(
                f"--set {pair!r} is not MODEL.PARAM=VALUE",
                field="set",
                value=pair,
                hint="For example --set sasrec.max_seconds=300 --set bpr.factors=128.",
            )
        cls = model_class(model)
        if param not in cls._params:
            raise InputError(
                f"--set {pair!r}: the {model} model has no parameter {param!r} (it has: {', '.join(cls._params)})",
                field="set",
                value=pair,
                hint="Pick a parameter from the list.",
            )
        try:
            value: object = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(model, {})[param] = value
    return out


def make_model(name: str, params: dict[str, object] | None = None, **context: object) -> BaseRecommender:
    """A model with defaults suited to the run (`val_days`, `min_rating`, `encoder`, `validation`,
    `exclude_seen` for those using them), then the user's own settings."""
    cls = model_class(name)
    kwargs = {k: v for k, v in context.items() if k in cls._params and v is not None}
    kwargs.update(params or {})
    return cls(**kwargs)


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

    def add(self, name: str, model: BaseRecommender, row: dict, split_: object, keep: bool) -> None:
        self.rows.append(row)
        if keep:
            self.fitted[name] = model
            self.split = split_
        log.info("%s: %s", name, row)


class PeakMemory:
    """Peak resident memory of this process while a block runs, above what it held when the block began
    (sampled every `interval` seconds by a background thread; native allocations of torch, BLAS and
    LightGBM included, which Python's tracemalloc does not see)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_mb = 0.0

    def __enter__(self) -> PeakMemory:
        import psutil

        self._proc = psutil.Process()
        self._base = self._top = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._top = max(self._top, self._proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._top = max(self._top, self._proc.memory_info().rss)
        self.peak_mb = (self._top - self._base) / 2**20


def _run_model(
    name: str,
    model: BaseRecommender,
    train: Interactions,
    catalog: Catalog,
    score: Callable[[BaseRecommender], dict],
) -> dict:
    """Fit and score one model, with its wall time and peak memory."""
    with PeakMemory() as mem:
        start = time.perf_counter()
        model.fit(train, catalog)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        metrics = score(model)
        scored = time.perf_counter() - start
    row = {
        "model": name,
        **metrics,
        "train_seconds": round(seconds, 3),
        "score_seconds": round(scored, 3),
        "wall_seconds": round(seconds + scored, 3),
        "peak_memory_mb": round(mem.peak_mb, 1),
    }
    if getattr(model, "items_dropped_", 0):
        row["note"] = (
            f"EASE modelled the {model.items_modelled_} most popular items; "
            f"{model.items_dropped_} items with interactions were left out (max_items)"
        )
    for attr, key in (
        ("epochs_run_", "epochs"),
        ("best_epoch_", "best_epoch"),
        ("stopped_by_", "stopped_by"),
        ("iterations_", "iterations"),
        ("fallback_", "serves"),
    ):
        value = getattr(model, attr, None)
        if value is not None:
            row[key] = value
    return row


def evaluate_models(
    data: InteractionFrame,
    models: list[str],
    *,
    protocol: str = "temporal",
    k: int = 10,
    test_days: float = 30.0,
    test_frac: float = 0.25,
    min_rating: float | None = None,
    exclude_seen: bool | None = None,
    sampled_negatives: int | None = None,
    session_gap_minutes: float = SESSION_GAP_SECONDS / 60,
    params: dict[str, dict[str, object]] | None = None,
    encoder: str = "minilm",
    cache_dir: str | None = ".marketloop/cache",
    on_model: Callable[[str], None] | None = None,
    keep_models: bool = False,
) -> EvalResult:
    """Fit and score each model on one split; `keep_models` keeps the fitted models (for benchmarks).

    `exclude_seen` (default: the protocol's own rule) removes training items from the ranking and the
    relevance; `sampled_negatives` adds the sampled-negative figures beside the full-ranking ones;
    `params` are per-model settings (``{"sasrec": {"max_seconds": 300}}``)."""
    if k < 1:
        raise InputError(f"k must be at least 1, got {k!r}", field="k", value=k, hint="Use e.g. --k 10.")
    if sampled_negatives is not None and sampled_negatives < 1:
        raise InputError(
            f"sampled negatives must be at least 1, got {sampled_negatives!r}",
            field="sampled_negatives",
            value=sampled_negatives,
            hint="Use e.g. --sampled-negatives 100 (the SASRec paper's figure), or leave it out.",
        )
    params = params or {}
    if protocol == "session":
        return _evaluate_sessions(
            data, models, k, test_days, bool(exclude_seen), session_gap_minutes, params, on_model, keep_models
        )
    inter = Interactions.from_frame(data.frame, user_col="user", item_col="item", time_col="ts", weight_col="rating")
    catalog = Catalog.from_frame(data.products, inter.items)
    if min_rating is None:
        min_rating = data.default_min_rating
    sp_ = split(
        inter, protocol, test_days=test_days, test_frac=test_frac, min_rating=min_rating, exclude_seen=exclude_seen
    )
    if len(sp_.users) == 0:
        raise InputError(
            "the split left no customer with both training history and test interactions",
            field="protocol",
            value=protocol,
            hint="Use a longer --test-days or another protocol.",
        )
    span_days = (sp_.train.max_ts - sp_.train.ts.min()) / 86_400
    val_days = test_days if protocol == "temporal" else max(1.0, min(30.0, span_days / 6))
    context = {
        "val_days": val_days,
        "min_rating": min_rating,
        "encoder": encoder,
        "cache_dir": cache_dir,
        "validation": protocol,
        "exclude_seen": sp_.exclude_seen,
    }
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
            "metrics": "full ranking of every item; tied scores count as ties (expected value)"
            + (f"; sampled{sampled_negatives}_*: {sampled_negatives} sampled negatives" if sampled_negatives else ""),
        },
    )
    ratings = _test_ratings(inter, sp_) if data.explicit else None
    for name in models:
        if on_model:
            on_model(name)
        model = make_model(name, params.get(name), **context)

        def score(m: BaseRecommender) -> dict:
            out = ranking_metrics(lambda u, m=m: m.score_users(u), sp_, k=k, sampled_negatives=sampled_negatives)
            if ratings is not None and hasattr(m, "predict"):
                out.update(rating_metrics(m, *ratings))
            return out

        result.add(name, model, _run_model(name, model, sp_.train, catalog, score), sp_, keep_models)
    return result


def _test_ratings(inter: Interactions, sp_) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """(user, item, rating) of the held-out events of an explicit-rating log, for RMSE / MAE."""
    rows = sp_.heldout
    return inter.user_idx[rows], inter.item_idx[rows], inter.weight[rows].astype(np.float64)


def _evaluate_sessions(
    data: InteractionFrame,
    models: list[str],
    k: int,
    test_days: float,
    exclude_seen: bool,
    gap_minutes: float,
    params: dict[str, dict[str, object]],
    on_model: Callable[[str], None] | None,
    keep_models: bool,
) -> EvalResult:
    supported = set(session_model_names())
    bad = [m for m in models if m not in supported]
    if bad:
        raise InputError(
            f"model(s) {', '.join(map(repr, bad))} cannot rank items for a session (session models: "
            f"{', '.join(sorted(supported))})",
            field="models",
            value=",".join(models),
            hint=f"For example --protocol session --models {','.join(DEFAULT_SESSION_MODELS)}.",
        )
    if gap_minutes <= 0:
        raise InputError(
            f"the session gap must be positive, got {gap_minutes!r} minutes",
            field="session_gap_minutes",
            value=gap_minutes,
            hint="Use e.g. --session-gap-minutes 30.",
        )
    frame = data.frame
    given = frame["session"] if "session" in frame.columns else None
    frame = frame.assign(session=sessionize(frame["user"], frame["ts"], given, gap_minutes * 60.0))
    inter = Interactions.from_frame(frame, user_col="session", item_col="item", time_col="ts", weight_col="rating")
    catalog = Catalog.from_frame(data.products, inter.items)
    sp_ = session_split(inter, test_days=test_days, exclude_seen=exclude_seen)
    if not sp_.test:
        raise InputError(
            f"no session of two or more known items started in the last {test_days:g} days",
            field="test_days",
            value=test_days,
            hint="Use a longer --test-days, or check the session column (--session-col).",
        )
    result = EvalResult(
        "session",
        k,
        {
            **sp_.info,
            "sessions_from": "the session column" if given is not None else f"{gap_minutes:g} minutes of inactivity",
            "exclude_seen": exclude_seen,
            "items": inter.n_items,
            "events": len(inter),
            "metrics": f"recall@{k} / mrr@{k}: next item after every prefix of a test session; last_*: the "
            "session's last item only; full ranking, ties as ties",
        },
    )
    for name in models:
        if on_model:
            on_model(name)
        model = make_model(name, params.get(name))
        row = _run_model(
            name, model, sp_.train, catalog, lambda m: session_metrics(lambda s, m=m: m.score_sessions(s), sp_, k=k)
        )
        result.add(name, model, row, sp_, keep_models)
    return result
