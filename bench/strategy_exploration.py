"""How far the exploration round's reading of the plain e-mail's effect falls from the truth, over many stores.

The planner's predicted incremental conversions rest on the exploration round (on seeds 10-24 of the
campaign benchmark the model adds almost nothing to the round's difference in conversion rates, see
docs/benchmarks/strategy.md). This repeats only that round, without a store or a model, on many
generated stores (the campaign benchmark's size and exploration: a share of the customers, control
or e-mail with 0/10/20 % off, each with equal chance), and compares, for "plain e-mail to every
reachable customer":

- estimate: the round's difference in conversion rates (e-mail vs control, reachable customers) x
  the reachable customers (:func:`marketloop.strategy.simulation.exploration_check`);
- expected: the simulator's exact expected incremental conversions of that plan;
- realised: that plan's incremental conversions in one coupled draw (seed 50,000 + store seed, as
  the campaign benchmark measures them).

It reports the mean and spread of estimate / expected - 1 and realised / expected - 1 per store, and
how often the mean of five stores' estimates falls within 20 % of their realised conversions. With
several shares in ``--fractions`` the same stores are explored once per share, so they compare in one
run. Writes bench/results/strategy_exploration.json. Usage:
  python bench/strategy_exploration.py [--first-seed 100] [--stores 200] [--customers 50000] [--fractions 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))


def summarise(runs: list[dict]) -> dict:
    import numpy as np

    est = np.array([r["estimate"] for r in runs])
    exp = np.array([r["expected"] for r in runs])
    real = np.array([r["realised"] for r in runs])
    per_store = est / exp - 1
    luck = real / exp - 1
    fives = np.array([est[i : i + 5].sum() / exp[i : i + 5].sum() - 1 for i in range(0, len(runs) - 4, 5)])
    vs_real = np.array([est[i : i + 5].sum() / real[i : i + 5].sum() - 1 for i in range(0, len(runs) - 4, 5)])
    return {
        "mean_error": round(float(est.sum() / exp.sum() - 1), 4),
        "mean_error_se": round(float(per_store.std(ddof=1) / np.sqrt(len(runs))), 4),
        "per_store_error_sd": round(float(per_store.std(ddof=1)), 4),
        "five_store_mean_error_sd": round(float(fives.std(ddof=1)), 4) if len(fives) > 1 else None,
        "five_store_means_within_20pct": round(float((np.abs(fives) <= 0.2).mean()), 3) if len(fives) else None,
        "realised_mean_error": round(float(real.sum() / exp.sum() - 1), 4),
        "realised_mean_error_se": round(float(luck.std(ddof=1) / np.sqrt(len(runs))), 4),
        "realised_per_store_error_sd": round(float(luck.std(ddof=1)), 4),
        "five_store_estimate_within_20pct_of_realised": round(float((np.abs(vs_real) <= 0.2).mean()), 3)
        if len(vs_real)
        else None,
    }


def main() -> None:
    import pandas as pd

    from marketloop.sim import Message, SimWorld
    from marketloop.strategy.history import RandomisedHistory, draw_exploration
    from marketloop.strategy.simulation import DISCOUNTS, exploration_check, realised

    parser = argparse.ArgumentParser()
    parser.add_argument("--first-seed", type=int, default=100)
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--fractions", default="1", help="comma-separated shares of customers in the round, e.g. 0.5,1")
    args = parser.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    started = time.perf_counter()
    runs: dict[float, list[dict]] = {f: [] for f in fractions}
    for seed in range(args.first_seed, args.first_seed + args.stores):
        world = SimWorld.build(customers=args.customers, products=300, days=365, seed=seed)
        for fraction in fractions:
            drawn = draw_exploration(
                world, world.customer_ids, [("email", d) for d in DISCOUNTS], fraction=fraction, seed=1_000 + seed
            )
            history = RandomisedHistory(
                rows=drawn.rename(columns={"purchase": "converted"}), sent_at=drawn["sent_at"].iloc[0], campaigns=[]
            )
            plain = Message(channel="email", send_at=history.sent_at)
            truth = world.true_uplift(world.customer_ids, plain)
            reachable = truth.loc[truth["delivered"], "customer_id"]
            plan = pd.DataFrame({"customer_id": reachable, "channel": "email", "discount": 0.0})
            check = exploration_check(world, history, plan)
            runs[fraction].append(
                {
                    "seed": seed,
                    "reachable": len(plan),
                    "estimate": check["estimate"],
                    "truth": check["truth"],
                    "expected": round(float(truth["uplift"][truth["delivered"]].sum()), 2),
                    "realised": realised(world, plan, history.sent_at, 50_000 + seed)["incremental_conversions"],
                }
            )
    summary = {
        "stores": args.stores,
        "seeds": [args.first_seed, args.first_seed + args.stores - 1],
        "customers": args.customers,
        "by_fraction": {str(f): summarise(runs[f]) for f in fractions},
        "seconds": round(time.perf_counter() - started, 1),
    }
    out = HERE / "results" / "strategy_exploration.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "runs": {str(f): r for f, r in runs.items()}}, indent=2))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
