"""Sentiment evaluation (``marketloop eval sentiment``): the classifier and the lexicon baseline,
scored on the same held-out split, for the binary task (4-5 vs 1-2) and the 3-class task."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from marketloop.content.reviews.lexicon import LexiconSentiment
from marketloop.content.reviews.sentiment import SentimentClassifier, rating_to_label
from marketloop.errors import InputError


def _scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
    }


def _task(
    texts: list[str], labels: list[str], kinds: list[str], embedder: Any, test_size: float, seed: int
) -> dict[str, Any]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(texts))
    tr, te = train_test_split(idx, test_size=test_size, stratify=labels, random_state=seed)
    xtr, ytr = [texts[i] for i in tr], [labels[i] for i in tr]
    xte, yte = [texts[i] for i in te], [labels[i] for i in te]
    classes = tuple(sorted(set(labels)))
    models: dict[str, dict[str, float]] = {}
    extra: dict[str, Any] = {}
    for kind in kinds:
        t0 = time.perf_counter()
        clf = SentimentClassifier(kind, embedder=embedder if kind != "tfidf" else None, random_state=seed).fit(xtr, ytr)
        name = f"classifier[{clf.features_}]" if kind != "auto" else f"classifier[auto->{clf.features_}]"
        models[name] = {**_scores(yte, clf.predict(xte)), "seconds": round(time.perf_counter() - t0, 2)}
        if kind == "auto":
            extra["validation_macro_f1"] = clf.validation_scores_
    models["lexicon"] = _scores(yte, LexiconSentiment().predict(xte, classes=classes))
    primary = next(iter(models))
    return {
        "n_train": len(tr),
        "n_test": len(te),
        "class_counts": pd.Series(labels).value_counts().to_dict(),
        "models": models,
        "primary": primary,
        "gap_vs_lexicon": models[primary]["macro_f1"] - models["lexicon"]["macro_f1"],
        **extra,
    }


def evaluate_sentiment(
    texts: Sequence[Any],
    ratings: Sequence[Any],
    *,
    features: str = "tfidf",
    embedder: Any = None,
    sample: int | None = None,
    test_size: float = 0.2,
    seed: int = 0,
) -> dict[str, Any]:
    kinds = {"all": ["tfidf", "embeddings", "stack"]}.get(features, [features])
    if any(k not in ("tfidf", "embeddings", "stack", "auto") for k in kinds):
        raise InputError(
            f"--features {features!r} is not tfidf, embeddings, stack, auto or all",
            field="features",
            value=features,
            hint="--features tfidf",
        )
    if any(k != "tfidf" for k in kinds) and embedder is None:
        raise InputError(
            f"--features {features} needs an embedder", field="embedder", value=None, hint="--embedder minilm"
        )
    df = pd.DataFrame({"text": list(texts), "rating": pd.to_numeric(pd.Series(list(ratings)), errors="coerce")})
    df = df[df["text"].notna() & df["rating"].notna() & df["text"].astype(str).str.strip().ne("")]
    if sample is not None and sample < len(df):
        df = df.sample(n=sample, random_state=seed)
    if len(df) < 20:
        raise InputError(
            f"only {len(df)} reviews have both a text and a rating; need at least 20",
            field="data",
            value=len(df),
            hint="Check --text-col and --rating-col.",
        )
    t0 = time.perf_counter()
    texts_all = df["text"].astype(str).tolist()
    bin_labels = [rating_to_label(r, classes=2) for r in df["rating"]]
    keep = [i for i, lab in enumerate(bin_labels) if lab is not None]
    binary = _task([texts_all[i] for i in keep], [bin_labels[i] for i in keep], kinds, embedder, test_size, seed)
    tri_labels = [rating_to_label(r, classes=3) for r in df["rating"]]
    three = _task(texts_all, [str(x) for x in tri_labels], kinds[:1], embedder, test_size, seed)
    return {
        "reviews": len(df),
        "features": features,
        "binary": binary,
        "three_class": three,
        "seconds": round(time.perf_counter() - t0, 1),
    }
