"""Simulator benchmark (issue 2): generation speed, peak memory, and how learnable the truth is.

Scenarios, each in its own subprocess so that peak memory (max RSS) belongs to it alone:
- generate: `generate_store` for N customers over D days: seconds, events/s, max RSS;
- rewrite (baseline): read the events, orders and lines just generated and write them again with the
  same Parquet options: the I/O floor that generation is compared with;
- calibration: Hillstrom-comparable rates and money from the oracle on a 40,000-customer world;
- targeting (with --targeting): on a generated store, a randomised e-mail test drawn by
  `SimWorld.respond`, a T-learner (two scikit-learn gradient-boosting classifiers) on features
  computed from the store tables only, and the true uplift captured in the top 30 % it picks,
  against random targeting and the oracle.

Writes bench/results/sim.json. Usage:
  python bench/sim.py [--customers 100000] [--days 365] [--big] [--targeting]
(--big adds 1,000,000 customers over 2,600 days, about 50M events.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generate(out: str, customers: int, days: int) -> dict:
    from marketloop.sim import generate_store

    m = generate_store(out, customers=customers, products=5_000, days=days, seed=1, force=True)
    return {
        "customers": customers,
        "days": days,
        "seconds": m.seconds,
        "rows": m.rows,
        "events_per_second": round(m.rows["events"] / m.seconds),
    }


def _rewrite(out: str) -> dict:
    import pyarrow.parquet as pq

    from marketloop.sim.generate import PARQUET_OPTIONS

    started = time.perf_counter()
    rows = 0
    target = Path(out) / "rewrite"
    target.mkdir(exist_ok=True)
    for entity in ("events", "orders", "order_lines"):
        for part in sorted((Path(out) / entity).glob("*.parquet")):
            table = pq.read_table(part)
            pq.write_table(table, target / f"{entity}-{part.name}", **PARQUET_OPTIONS)
            rows += table.num_rows
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "rows": rows, "rows_per_second": round(rows / seconds)}


def _features(out: str):
    import pandas as pd
    import pyarrow.parquet as pq

    events = pq.read_table(Path(out) / "events", columns=["customer_id", "session_id", "event_type", "ts"]).to_pandas()
    orders = pq.read_table(Path(out) / "orders").to_pandas()
    customers = (
        pq.read_table(Path(out) / "customers.parquet", columns=["customer_id", "signup_at"])
        .to_pandas()
        .set_index("customer_id")
    )
    end = events["ts"].max()
    sales = orders[~orders["is_return"]]
    types = pd.crosstab(events["customer_id"], events["event_type"])
    recent = events[events["ts"] > end - pd.Timedelta(days=60)].groupby("customer_id")["session_id"].nunique()
    f = pd.DataFrame(index=customers.index)
    f["tenure_days"] = (end - customers["signup_at"]).dt.days
    f["sessions"] = events.groupby("customer_id")["session_id"].nunique()
    f["recent_sessions"] = recent
    f["days_since_visit"] = (end - events.groupby("customer_id")["ts"].max()).dt.days
    for col in ("view", "add_to_cart", "remove_from_cart", "purchase", "search", "wishlist"):
        f[col] = types[col] if col in types else 0
    f["orders"] = sales.groupby("customer_id").size()
    f["spend"] = sales.groupby("customer_id")["total"].sum()
    f["days_since_order"] = (end - sales.groupby("customer_id")["ordered_at"].max()).dt.days
    f["returns"] = orders[orders["is_return"]].groupby("customer_id").size()
    f = f.fillna({c: 0 for c in f.columns if c not in ("days_since_visit", "days_since_order")}).fillna(9999)
    return f


def _targeting(out: str) -> dict:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from marketloop.sim import Message, SimWorld

    world = SimWorld.load(out)
    features = _features(out)
    ids = features.index.to_numpy()
    rng = np.random.default_rng(0)
    treated = rng.random(len(ids)) < 0.5
    message = Message(channel="email")
    outcome = np.where(
        treated,
        world.respond(ids, message, seed=1)["purchase"].to_numpy(),
        world.respond(ids, None, seed=1)["purchase"].to_numpy(),
    )
    x = features.to_numpy(dtype=float)
    truth_all = world.true_uplift(ids, message)["uplift"].to_numpy()
    ratios, oracle_ratios = [], []
    for split in range(3):  # train on one half, score the other; three random halvings
        half = np.random.default_rng(100 + split).random(len(ids)) < 0.5
        models = {}
        for arm in (True, False):
            rows = half & (treated == arm)
            models[arm] = HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.05, min_samples_leaf=100, random_state=split
            ).fit(x[rows], outcome[rows])
        test = ~half
        score = models[True].predict_proba(x[test])[:, 1] - models[False].predict_proba(x[test])[:, 1]
        truth = truth_all[test]
        k = int(0.3 * test.sum())
        random_pick = truth.mean() * k
        ratios.append(float(truth[np.argsort(-score)[:k]].sum() / random_pick))
        oracle_ratios.append(float(np.sort(truth)[::-1][:k].sum() / random_pick))
    return {
        "customers": int(len(ids)),
        "treated_conversion": float(outcome[treated].mean()),
        "control_conversion": float(outcome[~treated].mean()),
        "model_vs_random_top30": ratios,
        "model_vs_random_top30_mean": float(np.mean(ratios)),
        "oracle_vs_random_top30_mean": float(np.mean(oracle_ratios)),
    }


def _calibration() -> dict:
    """Hillstrom-comparable figures from the oracle (customers reachable by e-mail)."""
    from marketloop.sim import Message, SimWorld

    world = SimWorld.build(customers=40_000, products=500, days=365, seed=11)
    ids = world.customer_ids
    plain = world.true_uplift(ids, Message(channel="email"))
    blanket = world.true_uplift(ids, Message(channel="email", discount=0.2))
    reach = plain["delivered"].to_numpy()
    drawn = world.respond(ids[reach], Message(channel="email"), seed=1)
    top = blanket.nlargest(len(ids) // 5, "uplift")
    types = world.truth["response_type"].value_counts(normalize=True).round(4).to_dict()
    return {
        "world": "SimWorld.build(customers=40000, products=500, days=365, seed=11)",
        "reachable_by_email": float(reach.mean()),
        "conversion_untreated": float(plain.loc[reach, "p_purchase_untreated"].mean()),
        "conversion_email": float(plain.loc[reach, "p_purchase_treated"].mean()),
        "conversion_email_20pct": float(blanket.loc[reach, "p_purchase_treated"].mean()),
        "visit_untreated": float(plain.loc[reach, "p_visit_untreated"].mean()),
        "visit_email": float(plain.loc[reach, "p_visit_treated"].mean()),
        "spend_per_converter_drawn": float(drawn.loc[drawn["purchase"], "revenue"].mean()),
        "profit_per_customer_email": float(plain.loc[reach, "expected_incremental_profit"].mean()),
        "profit_per_customer_email_20pct": float(blanket.loc[reach, "expected_incremental_profit"].mean()),
        "profit_total_email_20pct_everyone": float(blanket["expected_incremental_profit"].sum()),
        "profit_total_email_20pct_top20_true_uplift": float(top["expected_incremental_profit"].sum()),
        "unsubscribe_email": float(plain.loc[reach, "p_unsubscribe"].mean()),
        "response_types": types,
    }


def child(name: str, out: str, customers: int, days: int) -> None:
    started = time.perf_counter()
    result = {
        "generate": lambda: _generate(out, customers, days),
        "rewrite": lambda: _rewrite(out),
        "targeting": lambda: _targeting(out),
        "calibration": _calibration,
    }[name]()
    result["wall_seconds"] = round(time.perf_counter() - started, 3)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["max_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    # CPU seconds (user + system, all threads): steadier than wall time on a shared machine.
    result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 2)
    rows = result.get("rows")
    if isinstance(rows, dict) and "events" in rows:
        result["events_per_cpu_second"] = round(rows["events"] / result["cpu_seconds"])
    elif isinstance(rows, int):
        result["rows_per_cpu_second"] = round(rows / result["cpu_seconds"])
    sys.stdout.write(json.dumps(result) + "\n")


def run(name: str, out: str, customers: int = 0, days: int = 0) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, out, str(customers), str(days)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name:>11} {customers or '':>9} {days or '':>5}: {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--big", action="store_true", help="also 1M customers over 2,600 days (about 50M events)")
    parser.add_argument("--targeting", action="store_true", help="also the learnability check (50k customers)")
    args = parser.parse_args()
    results: dict = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as work:
        sizes = [(args.customers, args.days)] + ([(1_000_000, 2_600)] if args.big else [])
        for customers, days in sizes:
            out = str(Path(work) / f"store-{customers}-{days}")
            gen = run("generate", out, customers, days)
            base = run("rewrite", out)
            results["runs"].append(
                {
                    "generate": gen,
                    "rewrite_baseline": base,
                    "generate_vs_rewrite": round(gen["events_per_second"] / base["rows_per_second"], 3),
                }
            )
        results["calibration"] = run("calibration", work)
        if args.targeting:
            out = str(Path(work) / "targeting")
            run("generate", out, 50_000, 365)
            results["targeting"] = run("targeting", out)
    dest = ROOT / "bench" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "sim.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {dest / 'sim.json'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
