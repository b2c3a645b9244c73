"""Intent evaluation (``marketloop eval intents``): held-out split, optionally a second file."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from marketloop.content.assistant.intents import IntentClassifier, KeywordIntents
from marketloop.errors import InputError


def evaluate_intents(
    texts: Sequence[Any],
    labels: Sequence[Any],
    *,
    test_size: float = 0.2,
    seed: int = 0,
    other: tuple[Sequence[Any], Sequence[Any]] | None = None,
) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    df = pd.DataFrame({"text": list(texts), "label": list(labels)}).dropna()
    df = df[df["label"].map(df["label"].value_counts()) >= 2]
    if df["label"].nunique() < 2 or len(df) < 20:
        raise InputError(
            f"need at least 20 labelled utterances in 2+ intents, got {len(df)} in {df['label'].nunique()}",
            field="data",
            value=len(df),
            hint="Check --text-col and --label-col.",
        )
    tr, te = train_test_split(df, test_size=test_size, stratify=df["label"], random_state=seed)
    t0 = time.perf_counter()
    clf = IntentClassifier(random_state=seed).fit(tr["text"].astype(str).tolist(), tr["label"].astype(str).tolist())
    fit_s = time.perf_counter() - t0
    pred = clf.predict(te["text"].astype(str).tolist())
    rules = KeywordIntents()
    rule_pred = [rules.top(t)[0] for t in te["text"].astype(str)]
    out: dict[str, Any] = {
        "n_train": len(tr),
        "n_test": len(te),
        "n_intents": int(df["label"].nunique()),
        "accuracy": float(accuracy_score(te["label"], pred)),
        "macro_f1": float(f1_score(te["label"], pred, average="macro")),
        "keyword_rules_accuracy": float(np.mean(np.asarray(rule_pred) == te["label"].to_numpy())),
        "fit_seconds": round(fit_s, 1),
    }
    if other is not None:
        o = pd.DataFrame({"text": list(other[0]), "label": list(other[1])}).dropna()
        known = o["label"].isin(set(clf.classes_))
        op = clf.predict(o.loc[known, "text"].astype(str).tolist())
        out["other_file"] = {
            "n": int(known.sum()),
            "unknown_label_rows": int((~known).sum()),
            "accuracy": float(accuracy_score(o.loc[known, "label"], op)),
            "macro_f1": float(f1_score(o.loc[known, "label"], op, average="macro")),
        }
    return out
