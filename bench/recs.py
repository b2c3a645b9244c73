"""Recommendation benchmark: full tables on UCI Online Retail and the Taobao sample per protocol
(temporal, leave-last-out), the session protocol on Taobao's visits and on a simulated store's sessions,
explicit ratings (RMSE) on the simulated store's reviews, training times, peak memory and in-process
serving latency. Writes bench/results/recs.json (or --out).

    HF_HUB_OFFLINE=1 PYTHONPATH=src python bench/recs.py [--only uci|taobao|sim] \
        [--protocols temporal,leave-last-out,session,ratings] [--models ...] [--session-models ...]

Reads ../shared/data (or MARKETLOOP_SHARED_DATA); the simulated store is generated into a temporary
folder (seed 0). Baselines (popularity, buy-again, item-kNN, session-kNN) run in the same process and on
the same split as the models they are compared with.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from marketloop.errors import InputError
from marketloop.recs.data import Interactions
from marketloop.recs.factor import ALS
from marketloop.recs.offline import DEFAULT_SESSION_MODELS, evaluate_models
from marketloop.recs.sources import InteractionFrame, read_interactions

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MARKETLOOP_SHARED_DATA", ROOT.parent / "shared" / "data"))
RUNS = {
    "uci": ("uci_online_retail/online_retail.csv.gz", "uci", {"test_days": 30.0}),
    "taobao": ("taobao_user_behavior_head/UserBehavior_head.csv", "taobao", {"test_days": 2.0}),
}
#: every customer model, with the content model on the model-free hashing encoder (MiniLM needs minutes
#: of encoding per catalogue; its figures are in docs/benchmarks/recs.md's earlier tables)
MODELS = "pop,buyagain,itemknn,userknn,als,bpr,ease,content,sasrec,twotower,hybrid"
SIM = {"customers": 20_000, "products": 500, "days": 180, "seed": 0}


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


def run(name: str, models: list[str], cache: str, protocol: str = "temporal") -> dict:
    rel, fmt, kw = RUNS[name]
    t0 = time.perf_counter()
    data = read_interactions(DATA / rel, fmt)
    read_s = time.perf_counter() - t0
    result = evaluate_models(
        data, models, protocol=protocol, k=10, cache_dir=cache, keep_models=True, encoder="hashing", **kw
    )
    out = {"data": str(DATA / rel), "read_seconds": round(read_s, 2), **result.to_dict()}
    rows = {r["model"]: r for r in result.rows}
    out["check"] = checks(rows, result.fitted)
    if protocol != "temporal":
        return out
    # serving latency (models fitted above, on the training part of the split) and full-train ALS time
    sp_ = result.split
    users = sp_.train.users[np.unique(sp_.train.user_idx)]
    als = ALS().fit(Interactions.from_frame(data.frame, weight_col="rating"))
    out["als_fit_seconds_all_data"] = round(als.fit_seconds_, 2)
    for model_name in ("als", "ease", "buyagain", "twotower", "hybrid"):
        if model_name in result.fitted:
            out[f"latency_{model_name}"] = latency(result.fitted[model_name], users)
    if "hybrid" in result.fitted:  # serving path: every customer's list ranked once, then read per request
        h = result.fitted["hybrid"]  # and the ranker's size, chosen inside training on its latest window
        out["hybrid_ranker"] = {
            "trees": h.n_estimators_,
            "validation_ndcg@10": h.val_ndcg_,
            "fold_ndcg@10": h.validation_,
            "serves": h.fallback_,
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


def checks(rows: dict, fitted: dict) -> dict:
    """The acceptance comparisons of one split: SASRec vs item-kNN, BPR vs popularity, the hybrid vs its
    best candidate (the candidate models and buy-again, whose items it always considers)."""
    nd = {m: r["ndcg@10"] for m, r in rows.items()}
    out: dict = {}
    if {"sasrec", "itemknn"} <= set(nd):
        out["sasrec_above_itemknn"] = nd["sasrec"] > nd["itemknn"]
    if {"bpr", "pop"} <= set(nd):
        out["bpr_above_pop"] = nd["bpr"] > nd["pop"]
    if "hybrid" in nd:
        cands = [m for m in (*fitted["hybrid"].candidates, "buyagain") if m in nd]
        if cands:
            best = max(cands, key=nd.get)
            out["hybrid_best_candidate"] = best
            out["hybrid_at_least_best_candidate"] = nd["hybrid"] >= nd[best]
            out["hybrid_gain_over_best_candidate"] = nd["hybrid"] / nd[best] - 1 if nd[best] else None
    if "pop" in nd:
        out["below_pop"] = [m for m, v in nd.items() if m != "pop" and v <= nd["pop"]]
    return out


def simulated_store(folder: Path) -> Path:
    from marketloop.sim import generate_store

    generate_store(folder, **SIM, force=True)
    return folder


def run_sessions(name: str, models: list[str]) -> dict:
    """The session protocol: Taobao visits (30 minutes of inactivity end one) with the last day as test,
    or the simulated store's sessions (their own ids) with the last 7 days as test."""
    t0 = time.perf_counter()
    if name == "sim":
        with tempfile.TemporaryDirectory() as tmp:
            folder = simulated_store(Path(tmp) / "store")
            data = read_interactions(
                folder / "events",
                "generic",
                user_col="customer_id",
                item_col="product_id",
                time_col="ts",
                session_col="session_id",
            )
        source, test_days = f"simulated store {SIM}", 7.0
    else:
        rel, fmt, _ = RUNS[name]
        data, source, test_days = read_interactions(DATA / rel, fmt), str(DATA / rel), 1.0
    read_s = time.perf_counter() - t0
    result = evaluate_models(data, models, protocol="session", k=20, test_days=test_days)
    return {"data": source, "read_seconds": round(read_s, 2), **result.to_dict()}


def run_ratings(models: list[str]) -> dict:
    """Explicit ratings: the simulated store's 1-5 star reviews, random-stratified 75/25 per customer
    with seen items removed (the MovieLens protocol of Microsoft Recommenders); RMSE for rating models."""
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        folder = simulated_store(Path(tmp) / "store")
        reviews = pd.read_parquet(folder / "reviews.parquet")
    frame = pd.DataFrame(
        {
            "user": reviews["customer_id"].astype(str),
            "item": reviews["product_id"].astype(str),
            "ts": pd.to_datetime(reviews["created_at"]),
            "rating": reviews["rating"].astype(float),
        }
    )
    data = InteractionFrame(frame, pd.DataFrame({"product_id": frame["item"].unique()}), explicit=True)
    per_customer = frame.groupby("user").size()
    out = {
        "data": f"simulated store reviews {SIM}",
        "reviews": len(frame),
        "customers": int(len(per_customer)),
        "customers_with_4_or_more": int((per_customer >= 4).sum()),
    }
    try:
        result = evaluate_models(data, models, protocol="random-stratified", k=10, min_rating=4.0)
    except InputError as exc:  # a review log this sparse leaves nothing to hold out per customer
        return {**out, "error": exc.message}
    return {**out, **result.to_dict()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=[*sorted(RUNS), "sim"])
    ap.add_argument("--protocols", default="temporal,leave-last-out,session,ratings")
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--session-models", default=",".join(DEFAULT_SESSION_MODELS))
    ap.add_argument("--rating-models", default="pop,itemknn,bpr,biasedmf")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "recs.json"))
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"shared data not found at {DATA}")
    protocols = args.protocols.split(",")
    results = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "runs": {},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every run: a long benchmark keeps what it measured
        out.write_text(json.dumps(results, indent=2, default=str))

    names = [args.only] if args.only else [*RUNS, "sim"]
    for name in names:
        for protocol in protocols:
            key = f"{name}/{protocol}"
            t = time.perf_counter()
            if protocol == "session":
                results["runs"][key] = run_sessions(name, args.session_models.split(","))
            elif protocol == "ratings":
                if name != "sim":
                    continue
                results["runs"][key] = run_ratings(args.rating_models.split(","))
            elif name in RUNS:
                results["runs"][key] = run(name, args.models.split(","), str(ROOT / ".marketloop" / "cache"), protocol)
            else:
                continue
            results["runs"][key]["run_seconds"] = round(time.perf_counter() - t, 1)
            print(f"{key}: {json.dumps(results['runs'][key].get('check', {}), default=str)}", file=sys.stderr)
            save()
    save()
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
