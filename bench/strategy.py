"""Strategy benchmark (issue 6): the planner in the simulator, and uplift learners on Hillstrom.

- campaign: `evaluate_campaigns` (see marketloop.strategy.simulation): per seed a generated store
  (N customers, one year), an exploration round (every customer by default), a plan for an incremental-profit goal,
  and realised incremental profit of the planner, three naive 20 %-off policies, the plain e-mail to
  everyone (reference) and the oracle on the same customers with the same random numbers;
- uplift: T-, X- and DR-learners and random targeting on Hillstrom (women's e-mail vs no e-mail,
  outcome visit; conversion and spend dropped as later outcomes), 50/50 splits, one per seed.

Writes bench/results/strategy.json. Usage:
  python bench/strategy.py [--seeds 5] [--customers 50000] [--skip-campaign] [--skip-uplift] [--learner t_learner]
                            [--first-seed 0] [--explore-fraction 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--first-seed", type=int, default=0, help="0 for the recorded figures; development uses 10")
    parser.add_argument("--learner", default="t_learner")
    parser.add_argument(
        "--explore-fraction",
        type=float,
        default=None,
        help="share of customers in the exploration round (default: marketloop.strategy.EXPLORATION_SHARE)",
    )
    parser.add_argument("--skip-campaign", action="store_true")
    parser.add_argument("--skip-uplift", action="store_true")
    args = parser.parse_args()
    out = HERE / "results" / "strategy.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results: dict = json.loads(out.read_text()) if out.exists() else {}
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    if not args.skip_uplift:
        import pandas as pd

        from marketloop.strategy.uplift_eval import evaluate_uplift

        data = (
            Path(os.environ.get("MARKETLOOP_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
            / "hillstrom_email"
            / "hillstrom.csv"
        )
        started = time.perf_counter()
        res = evaluate_uplift(
            pd.read_csv(data),
            "segment",
            "Womens E-Mail",
            "No E-Mail",
            "visit",
            seeds=args.seeds,
            drop=["conversion", "spend"],
        )
        res["seconds"] = round(time.perf_counter() - started, 1)
        results["uplift_hillstrom"] = res
        print(json.dumps({k: v["uplift_at_30"] for k, v in res["learners"].items()}), flush=True)
    if not args.skip_campaign:
        from marketloop.strategy import EXPLORATION_SHARE
        from marketloop.strategy.simulation import evaluate_campaigns

        started = time.perf_counter()
        fraction = EXPLORATION_SHARE if args.explore_fraction is None else args.explore_fraction
        res = evaluate_campaigns(
            args.seeds, args.customers, learner=args.learner, first_seed=args.first_seed, explore_fraction=fraction
        )
        res["seconds"] = round(time.perf_counter() - started, 1)
        key = (
            f"campaign_{args.learner}"
            + (f"_from_seed_{args.first_seed}" if args.first_seed else "")
            + (f"_explore_{fraction:g}" if fraction != EXPLORATION_SHARE else "")
        )
        results[key] = res
        print(json.dumps(res["summary"], indent=1), flush=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
