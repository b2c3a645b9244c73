"""Chinese sentiment and intents on the Chinese test sets written for them (tests/content/data):
202 shopping reviews labelled positive / negative and 138 customer-service utterances with their intent.
Writes bench/results/content_zh.json.

    .venv/bin/python bench/content_zh.py

Sentiment: the lexicon baseline (jieba + the Chinese lexicon, ``content/reviews/lexicon_zh.py``), which is
what `reviews analyze` uses without a trained model; a review scoring exactly 0 (no opinion word) counts
as wrong. Intents: the assistant's default rules (``KeywordIntents``); "other" counts as wrong. The same
code on the English lexicon is not comparable (different texts); the figures are for Chinese alone.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "content" / "data"


def main() -> None:
    from sklearn.metrics import accuracy_score, f1_score

    from marketloop.content.assistant.intents import KeywordIntents
    from marketloop.content.reviews.lexicon import LexiconSentiment

    reviews = pd.read_csv(DATA / "zh_reviews.tsv", sep="\t")
    utterances = pd.read_csv(DATA / "zh_intents.tsv", sep="\t")
    t0 = time.perf_counter()
    lex = LexiconSentiment()
    scores = lex.scores(reviews["text"].tolist())
    predicted = ["positive" if s > 0 else "negative" if s < 0 else "none" for s in scores]
    sentiment_s = time.perf_counter() - t0
    rules = KeywordIntents()
    t0 = time.perf_counter()
    intents = [rules.top(t)[0] for t in utterances["text"]]
    intent_s = time.perf_counter() - t0
    misses = [
        {"text": t, "expected": e, "got": g}
        for t, e, g in zip(utterances["text"], utterances["intent"], intents, strict=True)
        if e != g
    ]
    result = {
        "benchmark": "content_zh",
        "command": "python bench/content_zh.py",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "sentiment": {
            "reviews": len(reviews),
            "macro_f1": round(
                float(f1_score(reviews["label"], predicted, average="macro", labels=["negative", "positive"])), 4
            ),
            "accuracy": round(float(accuracy_score(reviews["label"], predicted)), 4),
            "no_opinion_word": int(sum(p == "none" for p in predicted)),
            "seconds": round(sentiment_s, 3),
        },
        "intents": {
            "utterances": len(utterances),
            "intents": int(utterances["intent"].nunique()),
            "accuracy": round(float(accuracy_score(utterances["intent"], intents)), 4),
            "seconds": round(intent_s, 4),
            "misses": misses,
        },
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "content_zh.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
