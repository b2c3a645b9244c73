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


MUTATIONS = {
    "price": lambda f, b: f + " Now only 7.77 GBP!",
    "discount": lambda f, b: f + " Extra 40% off.",
    "code": lambda f, b: f + " Use code MEGA99.",
    "date": lambda f, b: f + " Offer ends 31 January 2027.",
    "product": lambda f, b: f + f" Also see our {b.other_product_names[0]}.",
    "banned_claim": lambda f, b: f + " Guaranteed results.",
    "free_claim": lambda f, b: f + " Plus a free gift.",
    "profanity": lambda f, b: f + " Damn good deal.",
    "pii": lambda f, b: f + " Questions? Mail jane.doe@gmail.com.",
    "link": lambda f, b: f + " More at http://bit.ly/x1.",
    "opt_out": None,  # removes the opt-out / unsubscribe line
    "none": lambda f, b: f,
}


def bench_guardrail_recall(n: int = 1200) -> dict:
    """Inject one known error into template output (a stand-in for a careless LLM) and measure how often
    the guardrails flag the injected kind, how often an untouched message is flagged, and what is delivered."""
    import json as _json
    from typing import ClassVar

    import numpy as np

    from marketloop.content.copy.brief import CopyBrief
    from marketloop.content.copy.generate import CopyWriter
    from marketloop.content.copy.samples import random_briefs
    from marketloop.content.providers.base import TextProvider, TextRequest, TextResult
    from marketloop.content.providers.runtime import TextClient
    from marketloop.content.providers.template import TemplateWriter

    class Mutator(TextProvider):
        name: ClassVar[str] = "mutator"
        kind_for: dict = {}

        def generate(self, request: TextRequest) -> TextResult:
            text = TemplateWriter().generate(request).text
            facts = dict(request.facts)
            facts.pop("variant")
            facts.pop("safe")
            brief = CopyBrief.model_validate(facts)
            data = _json.loads(text)
            kind = self.kind_for[brief.customer.customer_id]
            field = {"email": "body", "sms": "text", "push": "body"}[brief.channel]
            if kind == "opt_out":
                if brief.channel == "email":
                    data["footer"] = "Thanks for shopping with us."
                elif brief.channel == "sms":
                    data["text"] = data["text"].replace(brief.brand.sms_opt_out[brief.language], "").strip()
            else:
                data[field] = MUTATIONS[kind](data[field], brief)
            return TextResult(text=_json.dumps(data, ensure_ascii=False), model="mutator")

    briefs = [b for b in random_briefs(n, seed=7) if b.other_product_names]
    rng = np.random.default_rng(0)
    kinds = list(MUTATIONS)
    Mutator.kind_for = {}
    for b in briefs:
        k = kinds[int(rng.integers(len(kinds)))]
        if k == "opt_out" and b.channel == "push":
            k = "none"
        Mutator.kind_for[b.customer.customer_id] = k
    writer = CopyWriter(TextClient(Mutator()))
    per: dict[str, dict[str, int]] = {k: {"n": 0, "flagged": 0} for k in kinds}
    delivered_bad = 0
    for b in briefs:
        r = writer.write_variant(b, 0)
        k = Mutator.kind_for[b.customer.customer_id]
        per[k]["n"] += 1
        per[k]["flagged"] += int((k in r.raw_report.kinds()) if k != "none" else (not r.raw_report.passed))
        delivered_bad += int(r.message is not None and not r.final_report.passed)
    return {
        "messages": len(briefs),
        "by_injected_kind": {
            k: {**v, "rate": round(v["flagged"] / v["n"], 4) if v["n"] else None} for k, v in per.items()
        },
        "delivered_with_violations": delivered_bad,
    }


def bench_sentiment(embeddings: bool) -> dict:
    from marketloop.content.reviews.evaluation import evaluate_sentiment

    df = pd.read_csv(DATA / "womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv")
    embedder = None
    if embeddings:
        from marketloop.content.providers.registry import get_registry
        from marketloop.content.providers.runtime import EmbeddingCache, EmbeddingClient

        embedder = EmbeddingClient(
            get_registry().create("embedding", "minilm"),
            cache=EmbeddingCache(ROOT / ".marketloop/cache/embeddings.sqlite"),
        )
    return evaluate_sentiment(
        df["Review Text"], df["Rating"], features="all" if embeddings else "tfidf", embedder=embedder, seed=0
    )


def bench_intents() -> dict:
    from marketloop.content.assistant.evaluation import evaluate_intents

    folder = DATA / "bitext_customer_support"
    big = pd.read_csv(folder / "TrainingdatasetBitextsample_20k_utterances.csv", encoding="utf-8-sig")
    small = pd.read_csv(folder / "Bitext_Sample_Customer_Support_Training_Dataset.csv")
    return evaluate_intents(big["utterance"], big["intent"], seed=0, other=(small["instruction"], small["intent"]))


def bench_assistant() -> dict:
    from marketloop.content.assistant.bot import Assistant, Conversation

    bot = Assistant()
    questions = [
        "where is my order?",
        "what is your returns policy",
        "how long does delivery take",
        "which cards do you accept",
        "I forgot my password",
        "can I cancel my order",
    ] * 20
    conv = Conversation()
    t0 = time.perf_counter()
    for q in questions:
        bot.respond(conv, q)
        conv.pending_intent = None
    return {
        "turns": len(questions),
        "ms_per_turn": round((time.perf_counter() - t0) * 1000 / len(questions), 2),
        "intents": "keyword rules",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embeddings", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = {"machine": {"python": sys.version.split()[0], "cpus": os.cpu_count(), "platform": platform.platform()}}
    out["copy"] = bench_copy()
    out["guardrail_recall"] = bench_guardrail_recall()
    out["assistant"] = bench_assistant()
    if DATA.is_dir():
        out["sentiment"] = bench_sentiment(args.embeddings)
        out["intents"] = bench_intents()
    path = ROOT / "bench" / "results" / "content.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps({k: v for k, v in out.items() if k != "machine"}, indent=1, default=str)[:4000])


if __name__ == "__main__":
    main()
