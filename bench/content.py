"""Content benchmarks: copy guardrails, review sentiment vs the lexicon, intents vs keyword rules,
assistant latency. Writes bench/results/content.json.

    PYTHONPATH=src python bench/content.py [--embeddings]   # --embeddings adds MiniLM (minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MARKETLOOP_SHARED_DATA", ROOT.parent / "shared" / "data"))


def bench_copy(n: int = 1000) -> dict:
    from marketloop.content.copy.evaluate import evaluate_copy
    from marketloop.content.copy.generate import CopyWriter
    from marketloop.content.copy.samples import random_briefs

    briefs = random_briefs(n, seed=0)
    t0 = time.perf_counter()
    result = evaluate_copy(CopyWriter(), briefs)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    result.pop("raw_failure_examples", None)
    return result


def bench_sentiment(embeddings: bool) -> dict:
    from marketloop.content.reviews.evaluation import evaluate_sentiment

    df = pd.read_csv(DATA / "womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv")
    embedder = None
    if embeddings:
        from marketloop.content.providers.registry import get_registry
        from marketloop.content.providers.runtime import EmbeddingCache, EmbeddingClient

        embedder = EmbeddingClient(get_registry().create("embedding", "minilm"), cache=EmbeddingCache(ROOT / ".marketloop/cache/embeddings.sqlite"))
    return evaluate_sentiment(df["Review Text"], df["Rating"], features="all" if embeddings else "tfidf", embedder=embedder, seed=0)


def bench_intents() -> dict:
    from marketloop.content.assistant.evaluation import evaluate_intents

    folder = DATA / "bitext_customer_support"
    big = pd.read_csv(folder / "TrainingdatasetBitextsample_20k_utterances.csv", encoding="utf-8-sig")
    small = pd.read_csv(folder / "Bitext_Sample_Customer_Support_Training_Dataset.csv")
    return evaluate_intents(big["utterance"], big["intent"], seed=0, other=(small["instruction"], small["intent"]))


def bench_assistant() -> dict:
    from marketloop.content.assistant.bot import Assistant, Conversation

    bot = Assistant()
    questions = ["where is my order?", "what is your returns policy", "how long does delivery take", "which cards do you accept",
                 "I forgot my password", "can I cancel my order"] * 20
    conv = Conversation()
    t0 = time.perf_counter()
    for q in questions:
        bot.respond(conv, q)
        conv.pending_intent = None
    return {"turns": len(questions), "ms_per_turn": round((time.perf_counter() - t0) * 1000 / len(questions), 2), "intents": "keyword rules"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embeddings", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = {"machine": {"python": sys.version.split()[0], "cpus": os.cpu_count(), "platform": platform.platform()}}
    out["copy"] = bench_copy()
    out["assistant"] = bench_assistant()
    if DATA.is_dir():
        out["sentiment"] = bench_sentiment(args.embeddings)
        out["intents"] = bench_intents()
    path = ROOT / "bench" / "results" / "content.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps({k: v for k, v in out.items() if k != "machine"}, indent=1, default=str)[:4000])  # noqa: T201 - a script


if __name__ == "__main__":
    main()
