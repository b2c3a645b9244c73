"""Review sentiment: a linear classifier on TF-IDF n-grams, on sentence embeddings, or on both.

``features="auto"`` (the default) trains each candidate on a training part, scores macro-F1 on a
held-out validation part, keeps the best and refits it on all the data; ``validation_scores_`` keeps
every candidate's figure so the choice can be reported. On the women's clothing reviews TF-IDF
word 1-2-grams beat MiniLM embeddings (see docs/benchmarks/content.md), so "auto" usually picks
``tfidf`` or ``stack``; embeddings remain available for stores whose reviews are short or multilingual.

Saved models are an ``.npz`` of arrays plus a JSON config with a schema version (no pickle).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from marketloop.errors import InputError, NotFoundError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
Features = Literal["auto", "tfidf", "embeddings", "stack"]
_FEATURES = ("auto", "tfidf", "embeddings", "stack")


def rating_to_label(rating: float, *, classes: int = 2) -> str | None:
    """1-2 -> negative, 4-5 -> positive; 3 -> neutral (3 classes) or None (binary: dropped)."""
    if rating is None or not np.isfinite(rating):
        return None
    r = int(round(float(rating)))
    if r <= 2:
        return "negative"
    if r >= 4:
        return "positive"
    return "neutral" if classes == 3 else None


class SentimentClassifier:
    """scikit-learn style estimator over raw texts.

    Parameters: ``features`` (auto, tfidf, embeddings, stack), ``embedder`` (an object with
    ``embed(texts) -> ndarray``, e.g. an EmbeddingClient; needed for embeddings/stack), ``C``
    (inverse regularisation), ``validation_size`` and ``random_state``.
    """

    def __init__(
        self,
        features: Features = "auto",
        *,
        embedder: Any = None,
        C: float = 4.0,
        validation_size: float = 0.2,
        max_features: int = 200_000,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.embedder = embedder
        self.C = C
        self.validation_size = validation_size
        self.max_features = max_features
        self.random_state = random_state

    # --- fitting ---------------------------------------------------------------------------------
    def _check(self, texts: Sequence[str], labels: Sequence[str] | None = None) -> list[str]:
        if self.features not in _FEATURES:
            raise InputError(
                f"features must be one of {', '.join(_FEATURES)}, got {self.features!r}",
                field="features",
                value=self.features,
                hint="Use features='auto' to pick by validation.",
            )
        if self.features in ("embeddings", "stack") and self.embedder is None:
            raise InputError(
                f"features={self.features!r} needs an embedder",
                field="embedder",
                value=None,
                hint="Pass embedder=EmbeddingClient(...), or use features='tfidf'.",
            )
        texts = ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in texts]
        if labels is not None:
            if len(labels) != len(texts):
                raise InputError(
                    f"texts and labels differ in length ({len(texts)} vs {len(labels)})",
                    field="labels",
                    value=len(labels),
                )
            if len(set(labels)) < 2:
                raise InputError(
                    f"need at least two sentiment classes to learn from, got {sorted(set(labels))}",
                    field="labels",
                    value=sorted(set(labels)),
                    hint="Include both low (1-2) and high (4-5) ratings.",
                )
        return texts

    def _vectorizer(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            ngram_range=(1, 2),
            min_df=2,
            sublinear_tf=True,
            max_features=self.max_features,
            strip_accents="unicode",
            lowercase=True,
        )

    def _design(self, kind: str, texts: list[str], *, fit: bool, emb: np.ndarray | None = None) -> Any:
        from scipy import sparse

        if kind == "embeddings":
            return emb
        if fit:
            self.vectorizer_ = self._vectorizer().fit(texts)
        X = self.vectorizer_.transform(texts)
        if kind == "stack":
            return sparse.hstack([X, sparse.csr_matrix(emb)], format="csr")
        return X

    def _linear(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=3000, class_weight="balanced", random_state=self.random_state)

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> SentimentClassifier:
        from sklearn.metrics import f1_score
        from sklearn.model_selection import train_test_split

        texts = self._check(texts, labels)
        y = np.asarray(labels, dtype=object)
        emb = self.embedder.embed(texts) if self.embedder is not None and self.features != "tfidf" else None
        candidates = (
            [self.features]
            if self.features != "auto"
            else (["tfidf", "embeddings", "stack"] if emb is not None else ["tfidf"])
        )
        self.validation_scores_: dict[str, float] = {}
        if len(candidates) > 1:
            idx = np.arange(len(texts))
            tr, va = train_test_split(idx, test_size=self.validation_size, stratify=y, random_state=self.random_state)
            for kind in candidates:
                Xtr = self._design(kind, [texts[i] for i in tr], fit=True, emb=None if emb is None else emb[tr])
                Xva = self._design(kind, [texts[i] for i in va], fit=False, emb=None if emb is None else emb[va])
                model = self._linear().fit(Xtr, y[tr])
                self.validation_scores_[kind] = float(f1_score(y[va], model.predict(Xva), average="macro"))
                log.info("sentiment candidate %s: validation macro-F1 %.4f", kind, self.validation_scores_[kind])
            self.features_ = max(self.validation_scores_, key=self.validation_scores_.get)
        else:
            self.features_ = candidates[0]
        X = self._design(self.features_, texts, fit=True, emb=emb)
        self.model_ = self._linear().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    # --- prediction ------------------------------------------------------------------------------
    def _X(self, texts: Sequence[str]) -> Any:  # noqa: N802 - the feature matrix X (scikit-learn naming)
        if not hasattr(self, "model_"):
            raise NotFoundError("This SentimentClassifier is not fitted", hint="Call fit() or load() first.")
        texts = self._check(texts)
        emb = self.embedder.embed(texts) if self.features_ in ("embeddings", "stack") else None
        if self.features_ == "embeddings":
            return emb
        return self._design(self.features_, texts, fit=False, emb=emb)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.model_.predict_proba(self._X(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.model_.predict(self._X(texts))

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Signed score in [-1, 1]: P(positive) - P(negative)."""
        proba = self.predict_proba(texts)
        classes = list(self.classes_)
        pos = proba[:, classes.index("positive")] if "positive" in classes else 0
        neg = proba[:, classes.index("negative")] if "negative" in classes else 0
        return pos - neg

    # --- persistence -----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "coef": self.model_.coef_,
            "intercept": self.model_.intercept_,
            "classes": np.asarray(self.classes_, dtype=str),
        }
        if self.features_ != "embeddings":
            vocab = self.vectorizer_.vocabulary_
            terms = np.empty(len(vocab), dtype=object)
            for term, i in vocab.items():
                terms[i] = term
            arrays["terms"] = terms.astype(str)
            arrays["idf"] = self.vectorizer_.idf_
        np.savez_compressed(path / "sentiment.npz", **arrays)
        config = {
            "schema_version": SCHEMA_VERSION,
            "kind": "marketloop.sentiment",
            "features": self.features_,
            "C": self.C,
            "max_features": self.max_features,
            "random_state": self.random_state,
            "validation_scores": getattr(self, "validation_scores_", {}),
            "embedder": getattr(getattr(self.embedder, "provider", None), "describe", lambda: None)(),
        }
        (path / "sentiment.json").write_text(json.dumps(config, indent=2))
        return path

    @classmethod
    def load(cls, directory: str | Path, *, embedder: Any = None) -> SentimentClassifier:
        from sklearn.linear_model import LogisticRegression

        path = Path(directory)
        cfg_path = path / "sentiment.json"
        if not cfg_path.is_file():
            raise NotFoundError(
                f"No sentiment model in {str(path)!r} (sentiment.json missing)",
                hint="Train one with `marketloop reviews train --data FILE`.",
            )
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("kind") != "marketloop.sentiment" or cfg.get("schema_version") != SCHEMA_VERSION:
            raise InputError(
                f"{str(cfg_path)!r} is not a sentiment model of schema version {SCHEMA_VERSION}",
                field="model",
                value=cfg.get("schema_version"),
                hint="Retrain it with this MarketLoop version.",
            )
        if cfg["features"] in ("embeddings", "stack") and embedder is None:
            raise InputError(
                f"the model at {str(path)!r} uses {cfg['features']} features and needs an embedder",
                field="embedder",
                value=None,
                hint=f"Pass the embedder it was trained with ({cfg.get('embedder')}).",
            )
        with np.load(path / "sentiment.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        obj = cls(
            cfg["features"],
            embedder=embedder,
            C=cfg["C"],
            max_features=cfg["max_features"],
            random_state=cfg["random_state"],
        )
        obj.features_ = cfg["features"]
        obj.validation_scores_ = cfg.get("validation_scores", {})
        model = LogisticRegression(C=obj.C)
        model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        model.classes_ = arrays["classes"].astype(object)
        obj.model_, obj.classes_ = model, model.classes_
        if "terms" in arrays:
            vec = obj._vectorizer()
            vec.vocabulary_ = {str(t): i for i, t in enumerate(arrays["terms"])}
            vec.idf_ = arrays["idf"]
            obj.vectorizer_ = vec
        return obj
