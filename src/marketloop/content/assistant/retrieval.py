"""Knowledge for the assistant (FAQ / policy texts and the catalogue) and hybrid retrieval over it.

Keyword search is TF-IDF cosine over words and character n-grams (scikit-learn); semantic search is
cosine over sentence embeddings when an embedder is given. The two rankings are merged with
reciprocal-rank fusion, which needs no score calibration between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from marketloop.errors import InputError


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str
    kind: str = "policy"  # policy or product
    intents: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict, hash=False, compare=False)
    language: str = "en"  # policy texts answer customers who write in this language


@dataclass(frozen=True)
class Hit:
    doc: Document
    score: float
    keyword: float
    semantic: float | None


def parse_kb_markdown(text: str, source: str, language: str = "en") -> list[Document]:
    """Sections `## Title`, optional `intents: a, b` line, then the answer text."""
    docs = []
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        lines = block.strip().splitlines()
        title = lines[0].strip()
        rest = lines[1:]
        intents: tuple[str, ...] = ()
        if rest and rest[0].lower().startswith("intents:"):
            intents = tuple(i.strip() for i in rest[0].split(":", 1)[1].split(",") if i.strip())
            rest = rest[1:]
        body = " ".join(line.strip() for line in rest if line.strip())
        if body:
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or str(len(docs) + 1)
            docs.append(Document(f"{source}#{slug}", title, body, "policy", intents, language=language))
    return docs


def load_knowledge(folder: str | Path | None = None) -> list[Document]:
    """The default policies (English and Chinese), or every ``*.md`` file in `folder` (same format; a file
    named ``*.zh.md`` holds the Chinese answers)."""
    if folder is None:
        kb = resources.files("marketloop.content.assistant").joinpath("kb")
        return parse_kb_markdown(kb.joinpath("default.md").read_text(encoding="utf-8"), "default") + parse_kb_markdown(
            kb.joinpath("default.zh.md").read_text(encoding="utf-8"), "default.zh", "zh"
        )
    path = Path(folder)
    files = sorted(path.glob("*.md")) if path.is_dir() else []
    docs = [
        d
        for f in files
        for d in parse_kb_markdown(f.read_text(encoding="utf-8"), f.stem, "zh" if f.name.endswith(".zh.md") else "en")
    ]
    if not docs:
        raise InputError(
            f"knowledge folder {str(path)!r} has no Markdown sections",
            field="kb",
            value=str(path),
            hint="Put *.md files there with '## Title' sections (see docs/content.md).",
        )
    return docs


def product_documents(products: Any) -> list[Document]:
    """Catalogue rows (a DataFrame with product_id, name, description, category, price, currency) as documents."""
    docs = []
    for row in products.itertuples(index=False):
        desc = getattr(row, "description", None)
        cat = getattr(row, "category", None)
        parts = [str(row.name)] + [str(x) for x in (cat, desc) if isinstance(x, str) and x]
        docs.append(
            Document(
                f"product:{row.product_id}",
                str(row.name),
                ". ".join(parts),
                "product",
                meta={
                    "product_id": str(row.product_id),
                    "price": None if row.price is None else float(row.price),
                    "currency": getattr(row, "currency", None) or "GBP",
                },
            )
        )
    return docs


class HybridRetriever:
    def __init__(self, documents: list[Document], *, embedder: Any = None, k_rrf: int = 60) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not documents:
            raise InputError("the retriever needs at least one document", field="documents", value=0)
        self.documents = documents
        self.embedder = embedder
        self.k_rrf = k_rrf
        corpus = [f"{d.title}. {d.title}. {d.text}" for d in documents]
        self._word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english").fit(corpus)
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit(corpus)
        self._Mw = self._word.transform(corpus)
        self._Mc = self._char.transform(corpus)
        self._E = embedder.embed(corpus) if embedder is not None else None

    def keyword_scores(self, query: str) -> np.ndarray:
        w = (self._Mw @ self._word.transform([query]).T).toarray().ravel()
        c = (self._Mc @ self._char.transform([query]).T).toarray().ravel()
        return 0.6 * w + 0.4 * c

    def search(
        self, query: str, k: int = 3, *, kind: str | None = None, intent: str | None = None, language: str | None = None
    ) -> list[Hit]:
        """The best `k` documents (of `kind`; policy texts in `language` only, when given)."""
        kw = self.keyword_scores(query)
        sem = (self._E @ self.embedder.embed([query])[0]) if self._E is not None else None
        rank_kw = np.argsort(-kw)
        fused = np.zeros(len(self.documents))
        fused[rank_kw] += 1.0 / (self.k_rrf + np.arange(1, len(rank_kw) + 1))
        if sem is not None:
            rank_sem = np.argsort(-sem)
            fused[rank_sem] += 1.0 / (self.k_rrf + np.arange(1, len(rank_sem) + 1))
        if intent:
            fused += np.array([0.05 if intent in d.intents else 0.0 for d in self.documents])
        hits = []
        for i in np.argsort(-fused):
            doc = self.documents[i]
            if kind and doc.kind != kind:
                continue
            if language and doc.kind == "policy" and doc.language != language:
                continue
            hits.append(Hit(doc, float(fused[i]), float(kw[i]), None if sem is None else float(sem[i])))
            if len(hits) >= k:
                break
        return hits
