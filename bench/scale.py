"""Scale benchmark: profiles and ALS on DuckDB and on Spark local[2], at growing store sizes, in one run.

For each size (customers; the simulator's own event rate gives the events) the script generates a store
with `marketloop sim generate`, loads it into DuckDB, then runs in its own subprocess each of:
- profiles-duckdb: `marketloop analyze --force` (engine duckdb);
- profiles-spark: `marketloop analyze --force --engine spark` (local[2], input: the store);
- als-duckdb: ALS (implicit) on the store's interactions;
- als-spark: `marketloop recs train --engine spark` (MLlib ALS + every customer's for-you list).
Peak memory is the largest resident set of the subprocess and all its descendants (the JVM included),
sampled every 0.2 s. Writes bench/results/scale.json. Run it niced on a shared machine:

    nice .venv/bin/python bench/scale.py --customers 20000 100000 [--days 365]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ALS_DUCKDB = """
import sys, time
from marketloop.store import open_store
from marketloop.recs.sources import store_interactions
from marketloop.recs.data import Catalog, Interactions
from marketloop.recs.base import model_class
store = open_store(sys.argv[1])
data = store_interactions(store)
inter = Interactions.from_frame(data.frame, weight_col="rating", items=data.products["product_id"].astype(str))
model = model_class("als")().fit(inter, Catalog.from_frame(data.products, inter.items))
ids, _ = model.recommend(list(inter.users), 50)
print(len(inter))
"""


def measured(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd``; wall seconds and the peak RSS of its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            stop.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, err = proc.communicate()
    stop.set()
    thread.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{err[-3000:]}")
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak / 2**20),
        "stdout": out[-500:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "scale.json"))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as work:
        for n in args.customers:
            sim, db = Path(work) / f"sim-{n}", Path(work) / f"store-{n}.duckdb"
            env = {
                **os.environ,
                "MARKETLOOP_DB_URL": f"duckdb:///{db}",
                "MARKETLOOP_SECRET_FILE": str(Path(work) / "pii.key"),
                "MARKETLOOP_MODELS_DIR": str(Path(work) / f"models-{n}"),
                "MARKETLOOP_SPARK_MASTER": "local[2]",
                "MARKETLOOP_SPARK_SHUFFLE_PARTITIONS": "8",
            }
            ml = str(BIN / "marketloop")
            gen = measured(
                [
                    ml,
                    "sim",
                    "generate",
                    "--out",
                    str(sim),
                    "--customers",
                    str(n),
                    "--days",
                    str(args.days),
                    "--products",
                    str(args.products),
                    "--load",
                ],
                env,
            )
            events = int(
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        f"import duckdb; print(duckdb.connect('{db}', read_only=True).execute('select count(*) from events').fetchone()[0])",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            orders = int(
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        f"import duckdb; print(duckdb.connect('{db}', read_only=True).execute('select count(DISTINCT customer_id) from orders').fetchone()[0])",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            row = {"customers": n, "buying_customers": orders, "events": events, "generate_and_load_s": gen["seconds"]}
            runs = {
                "profiles-duckdb": [ml, "analyze", "--force", "--json"],
                "profiles-spark": [ml, "analyze", "--force", "--json", "--engine", "spark"],
                "als-duckdb": [sys.executable, "-c", ALS_DUCKDB, env["MARKETLOOP_DB_URL"]],
                "als-spark": [ml, "recs", "train", "--engine", "spark", "--json"],
            }
            for name, cmd in runs.items():
                got = measured(cmd, env)
                row[name] = {"seconds": got["seconds"], "peak_rss_mb": got["peak_rss_mb"]}
                print(json.dumps({"customers": n, name: row[name]}), flush=True)
            results.append(row)
            write(args.out, results)  # after every size: a long run that is stopped keeps what it measured
    print(Path(args.out).read_text())


def write(out: str, results: list[dict]) -> None:
    payload = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load_average": os.getloadavg(),
        "results": results,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
