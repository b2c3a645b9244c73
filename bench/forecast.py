"""Forecast and ads benchmarks: the rolling-origin backtest on UCI Online Retail, and the ad click model on
held-out days of the Open Bandit logs.

- forecast: `marketloop eval forecast --uci FILE` (daily, 28 days ahead, origins 14 days apart, the last one
  28 days before the end of the data); MASE and 90 % interval coverage per level for the forecaster,
  seasonal naive and AutoETS in the same run;
- ads: `marketloop eval ads --logs DIR` (train on the first five days, score the last two).

Writes bench/results/forecast.json. Usage:
  python bench/forecast.py [--origins 4] [--horizon 28] [--calibration-windows 1] [--max-products 500]
                           [--skip-forecast] [--skip-ads]
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
    parser.add_argument("--origins", type=int, default=4)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--calibration-windows", type=int, default=1)
    parser.add_argument(
        "--max-products", type=int, default=500, help="products forecast at product level (best sellers)"
    )
    parser.add_argument("--skip-forecast", action="store_true")
    parser.add_argument("--skip-ads", action="store_true")
    args = parser.parse_args()
    data = Path(os.environ.get("MARKETLOOP_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
    out = HERE / "results" / "forecast.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results: dict = json.loads(out.read_text()) if out.exists() else {}
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    if not args.skip_forecast:
        from marketloop.cli.forecast import run_eval

        started = time.perf_counter()
        results["uci_backtest"] = run_eval(
            db=None,
            uci=data / "uci_online_retail" / "online_retail.csv.gz",
            freq="D",
            horizon=args.horizon,
            level=90.0,
            origins=args.origins,
            step=None,
            calibration_windows=args.calibration_windows,
            holidays=None,
            as_json=True,
            max_products=args.max_products,
        )
        results["uci_backtest"]["wall_seconds"] = round(time.perf_counter() - started, 1)
    if not args.skip_ads:
        from marketloop.ads.response import evaluate_open_bandit

        results["open_bandit_click_model"] = evaluate_open_bandit(data / "open_bandit_zozotown", test_days=2)
    out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
