"""Score the store's reviews and keep per-product summaries (tables ``review_sentiment`` and
``review_summaries``) for the dashboard and for copy generation ("Reviewers love the fit")."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.content.reviews.aspects import ProductSummary, extract_aspects, summarise_product
from marketloop.content.reviews.lexicon import LexiconSentiment
from marketloop.store import schema

log = logging.getLogger(__name__)

NEUTRAL_BAND = 0.2


def _now() -> dt.datetime:
    return utcnow()


def review_texts(df: pd.DataFrame) -> list[str]:
    title = df["title"].fillna("").astype(str)
    body = df["body"].fillna("").astype(str)
    return [f"{t}. {b}".strip(". ") if t else b for t, b in zip(title, body, strict=True)]


def label_reviews(texts: Sequence[str], classifier: Any = None) -> tuple[np.ndarray, np.ndarray, str, Callable]:
    """(labels, scores, model name, sentence scorer). Without a classifier the lexicon is used."""
    if classifier is None:
        lex = LexiconSentiment()
        scores = lex.scores(list(texts))
        labels = lex.labels(scores, classes=("negative", "neutral", "positive"))
        return labels, scores, "lexicon", lambda sents: lex.scores(list(sents))
    scores = classifier.score_texts(list(texts))
    labels = np.where(scores > NEUTRAL_BAND, "positive", np.where(scores < -NEUTRAL_BAND, "negative", "neutral"))
    return labels, scores, f"sentiment:{classifier.features_}"[:64], lambda sents: classifier.score_texts(list(sents))


def _score(
    df: pd.DataFrame, classifier: Any, min_mentions: int
) -> tuple[np.ndarray, np.ndarray, str, list, list[ProductSummary]]:
    """Label every review of `df` (review_id, product_id, rating, title, body), find its aspects and
    summarise each product: (labels, scores, model name, aspect mentions per review, summaries)."""
    texts = review_texts(df)
    labels, scores, model_name, scorer = label_reviews(texts, classifier)
    mentions = [extract_aspects(t, scorer) for t in texts]
    frame = df.assign(label=labels, idx=np.arange(len(df)))
    summaries: list[ProductSummary] = []
    for pid, group in frame.groupby("product_id", sort=True):
        ratings = [None if pd.isna(x) else float(x) for x in group["rating"]]
        summaries.append(
            summarise_product(
                str(pid), list(group["label"]), ratings, [mentions[i] for i in group["idx"]], min_mentions=min_mentions
            )
        )
    return labels, scores, model_name, mentions, summaries


@dataclass(frozen=True)
class ReviewInsights:
    """Summaries computed on the fly (most-reviewed product first), review counts per label, the model."""

    summaries: list[ProductSummary]
    labels: dict[str, int]
    model: str | None


def summarise_reviews(
    store: Any,
    product_ids: Sequence[str] | None = None,
    *,
    limit: int | None = None,
    classifier: Any = None,
    min_mentions: int = 3,
) -> ReviewInsights:
    """What :func:`analyse_store_reviews` would store, computed without writing anything: for
    `product_ids`, else for the `limit` most-reviewed products (all when None)."""
    r = schema.reviews
    if product_ids is None:
        top = sa.select(r.c.product_id).group_by(r.c.product_id).order_by(sa.func.count().desc(), r.c.product_id)
        if limit:
            top = top.limit(limit)
        product_ids = [str(x) for x in store.read_sql(top)["product_id"]]
    if not product_ids:
        return ReviewInsights([], {}, None)
    df = store.read_sql(
        sa.select(r.c.review_id, r.c.product_id, r.c.rating, r.c.title, r.c.body)
        .where(r.c.product_id.in_(list(product_ids)))
        .order_by(r.c.review_id)
    )
    if df.empty:
        return ReviewInsights([], {}, None)
    labels, _, model_name, _, summaries = _score(df, classifier, min_mentions)
    summaries.sort(key=lambda s: (-s.n_reviews, s.product_id))
    counts = pd.Series(labels).value_counts().to_dict()
    return ReviewInsights(
        summaries[:limit] if limit else summaries, {str(k): int(v) for k, v in counts.items()}, model_name
    )


def analyse_store_reviews(
    store: Any, *, classifier: Any = None, min_mentions: int = 3, product_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """Score every review (or those of `product_ids`), store sentiment and per-product summaries."""
    r = schema.reviews
    query = sa.select(r.c.review_id, r.c.product_id, r.c.rating, r.c.title, r.c.body)
    if product_ids:
        query = query.where(r.c.product_id.in_(list(product_ids)))
    df = store.read_sql(query)
    if df.empty:
        return {"reviews": 0, "products": 0, "model": None}
    labels, scores, model_name, mentions, summaries = _score(df, classifier, min_mentions)
    now = _now()
    rows = [
        {
            "review_id": str(rid),
            "product_id": str(pid),
            "label": str(lab),
            "score": float(sc),
            "aspects_json": json.dumps([{"aspect": m.aspect, "polarity": m.polarity} for m in ms]),
            "model": model_name,
            "scored_at": now,
        }
        for rid, pid, lab, sc, ms in zip(df["review_id"], df["product_id"], labels, scores, mentions, strict=True)
    ]
    srows = [
        {
            "product_id": s.product_id,
            "n_reviews": s.n_reviews,
            "avg_rating": s.avg_rating,
            "positive_share": s.positive_share,
            "loves_json": json.dumps(s.loves, ensure_ascii=False),
            "complaints_json": json.dumps(s.complaints, ensure_ascii=False),
            "highlight": s.highlight,
            "model": model_name,
            "updated_at": now,
        }
        for s in summaries
    ]
    rs, ss = schema.review_sentiment, schema.review_summaries
    with store.begin() as conn:
        ids = [row["review_id"] for row in rows]
        for start in range(0, len(ids), 1000):
            conn.execute(rs.delete().where(rs.c.review_id.in_(ids[start : start + 1000])))
        pids = [row["product_id"] for row in srows]
        for start in range(0, len(pids), 1000):
            conn.execute(ss.delete().where(ss.c.product_id.in_(pids[start : start + 1000])))
        for start in range(0, len(rows), 5000):
            conn.execute(rs.insert(), rows[start : start + 5000])
        if srows:
            conn.execute(ss.insert(), srows)
    counts = pd.Series(labels).value_counts().to_dict()
    return {
        "reviews": len(rows),
        "products": len(srows),
        "model": model_name,
        "labels": {str(k): int(v) for k, v in counts.items()},
    }


def load_summaries(
    store: Any, product_ids: Sequence[str] | None = None, *, limit: int | None = None
) -> list[ProductSummary]:
    """Stored summaries, most-reviewed first."""
    ss = schema.review_summaries
    query = sa.select(ss).order_by(ss.c.n_reviews.desc(), ss.c.product_id)
    if product_ids is not None:
        query = query.where(ss.c.product_id.in_(list(product_ids)))
    if limit:
        query = query.limit(limit)
    df = store.read_sql(query)
    return [
        ProductSummary(
            str(row.product_id),
            int(row.n_reviews),
            None if pd.isna(row.avg_rating) else float(row.avg_rating),
            float(row.positive_share),
            json.loads(row.loves_json or "[]"),
            json.loads(row.complaints_json or "[]"),
            None if pd.isna(row.highlight) else row.highlight,
        )
        for row in df.itertuples()
    ]
