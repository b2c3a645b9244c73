"""Recommendation benchmark: full tables on UCI Online Retail and the Taobao sample, training times and
in-process serving latency. Writes bench/results/recs.json.

    HF_HUB_OFFLINE=1 PYTHONPATH=src python bench/recs.py [--only uci|taobao] [--models ...]

Reads ../shared/data (or MARKETLOOP_SHARED_DATA); baselines (popularity, buy-again) run in the same
process as the models they are compared with.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from marketloop.recs.data import Interactions
from marketloop.recs.factor import ALS
from marketloop.recs.offline import DEFAULT_MODELS, evaluate_models
from marketloop.recs.sources import read_interactions

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MARKETLOOP_SHARED_DATA", ROOT.parent / "shared" / "data"))
RUNS = {
    "uci": ("uci_online_retail/online_retail.csv.gz", "uci", {"test_days": 30.0}),
    "taobao": ("taobao_user_behavior_head/UserBehavior_head.csv", "taobao", {"test_days": 2.0}),
}


def latency(model, users: np.ndarray, repeats: int = 300) -> dict:
    rng = np.random.default_rng(0)
    picks = rng.choice(users, size=min(repeats, len(users) * 3))
    model.recommend(str(picks[0]), n=10)  # warm up
    times = []
    for u in picks:
        t = time.perf_counter()
        model.recommend(str(u), n=10)
        times.append((time.perf_counter() - t) * 1000)
    t = np.array(times)
    return {"calls": len(t), "p50_ms": float(np.percentile(t, 50)), "p99_ms": float(np.percentile(t, 99))}


def run(name: str, models: list[str], cache: str) -> dict:
    rel, fmt, kw = RUNS[name]
    t0 = time.perf_counter()
    data = read_interactions(DATA / rel, fmt)
    read_s = time.perf_counter() - t0
    result = evaluate_models(data, models, protocol="temporal", k=10, cache_dir=cache, keep_models=True, **kw)
    out = {"data": str(DATA / rel), "read_seconds": round(read_s, 2), **result.to_dict()}
    rows = {r["model"]: r for r in result.rows}
    singles = {m: r["ndcg@10"] for m, r in rows.items() if m not in ("hybrid", "pop")}
    if "hybrid" in rows and singles:
        best = max(singles, key=singles.get)
        out["check"] = {
            "best_single": best,
            "best_single_ndcg@10": singles[best],
            "hybrid_ndcg@10": rows["hybrid"]["ndcg@10"],
            "hybrid_gain": rows["hybrid"]["ndcg@10"] / singles[best] - 1,
            "every_model_beats_pop": all(r["ndcg@10"] > rows["pop"]["ndcg@10"] for m, r in rows.items() if m != "pop")
            if "pop" in rows
            else None,
        }
    # serving latency (models fitted above, on the training part of the split) and full-train ALS time
    sp_ = result.split
    users = sp_.train.users[np.unique(sp_.train.user_idx)]
    als = ALS().fit(Interactions.from_frame(data.frame, weight_col="rating"))
    out["als_fit_seconds_all_data"] = round(als.fit_seconds_, 2)
    for model_name in ("als", "ease", "buyagain", "hybrid"):
        if model_name in result.fitted:
            out[f"latency_{model_name}"] = latency(result.fitted[model_name], users)
    if "hybrid" in result.fitted:  # serving path: every customer's list ranked once, then read per request
        h = result.fitted["hybrid"]  # and the ranker's size, chosen inside training on its latest window
        out["hybrid_ranker"] = {
            "trees": h.n_estimators_,
            "validation_ndcg@10": h.val_ndcg_,
            "rows": h.n_train_rows_,
            "groups": h.n_train_groups_,
        }
        t = time.perf_counter()
        result.fitted["hybrid"].precompute()
        out["hybrid_precompute_seconds"] = round(time.perf_counter() - t, 1)
        out["latency_hybrid_precomputed"] = latency(result.fitted["hybrid"], users)
    if "hybrid" in rows:
        out["hybrid_pipeline_seconds"] = round(
            read_s + rows["hybrid"]["train_seconds"] + rows["hybrid"]["score_seconds"], 1
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=sorted(RUNS))
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "recs.json"))
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"shared data not found at {DATA}")
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "runs": {},
    }
    for name in [args.only] if args.only else list(RUNS):
        results["runs"][name] = run(name, args.models.split(","), str(ROOT / ".marketloop" / "cache"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
