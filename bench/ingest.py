"""Ingestion benchmark (issue 2).

Scenarios, each run in its own subprocess so that peak memory (max RSS) belongs to it alone:
- uci-duckdb: `import uci-online-retail` of the real UCI file into a fresh DuckDB store;
- uci-raw-duckdb (baseline): DuckDB's own read_csv of the same file into a table, no validation;
- uci-postgres: the same import into PostgreSQL (when MARKETLOOP_TEST_PG_URL or --pg is given);
- events-parquet-duckdb: N synthetic events (default 10M) from one Parquet file into DuckDB;
- events-raw-duckdb (baseline): DuckDB's read_parquet of the same file into a table.

Writes bench/results/ingest.json. Usage: python bench/ingest.py [--events 10000000] [--pg URL]
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
UCI = (
    Path(os.environ.get("MARKETLOOP_SHARED_DATA", ROOT.parent / "shared" / "data"))
    / "uci_online_retail"
    / "online_retail.csv.gz"
)


def scenario(name: str, work: str, events: int, pg: str | None) -> dict:
    """Runs inside the child process; returns the measured figures."""
    import duckdb

    from marketloop.config import load_settings
    from marketloop.store import open_store
    from marketloop.store.ingest import load_file

    started = time.perf_counter()
    if name == "uci-raw-duckdb":
        con = duckdb.connect(str(Path(work) / "raw.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{UCI}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
    elif name == "events-raw-duckdb":
        con = duckdb.connect(str(Path(work) / "raw-events.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{Path(work) / 'events.parquet'}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
    else:
        url = pg if name == "uci-postgres" else f"duckdb:///{Path(work) / (name + '.duckdb')}"
        settings = load_settings(db_url=url, secret_file=Path(work) / "pii.key")
        store = open_store(url)
        started = time.perf_counter()
        if name.startswith("uci"):
            summary = load_file(store, "uci-online-retail", UCI, settings=settings)
        else:
            summary = load_file(store, "events", Path(work) / "events.parquet", settings=settings)
        rows = summary.rows_read
        store.close()
    seconds = time.perf_counter() - started
    return {"scenario": name, "rows": int(rows), "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}


def write_events(path: Path, n: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    start = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
    types = np.array(["view", "add_to_cart", "purchase", "search"])
    table = pa.table(
        {
            "event_id": pa.array(np.char.add("e", np.arange(n).astype(str))),
            "customer_id": pa.array(np.char.add("c", rng.integers(0, 1_000_000, n).astype(str))),
            "session_id": pa.array(np.char.add("s", (np.arange(n) // 8).astype(str))),
            "event_type": pa.array(types[rng.choice(4, n, p=[0.8, 0.12, 0.03, 0.05])]),
            "product_id": pa.array(np.char.add("p", rng.integers(0, 20_000, n).astype(str))),
            "ts": pa.array(start + np.sort(rng.integers(0, 300 * 86_400_000_000, n)), pa.timestamp("us")),
        }
    )
    pq.write_table(table, path, row_group_size=1_000_000)


def run_child(name: str, work: str, events: int, pg: str | None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, "--work", work, "--events", str(events)]
        + (["--pg", pg] if pg else []),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--pg", default=os.environ.get("MARKETLOOP_TEST_PG_URL"))
    parser.add_argument("--child")
    parser.add_argument("--work")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "ingest.json"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(scenario(args.child, args.work, args.events, args.pg)))
        return
    if not UCI.exists():
        sys.exit(f"UCI file not found at {UCI}; set MARKETLOOP_SHARED_DATA")
    results = []
    with tempfile.TemporaryDirectory() as work:
        # Peak RSS of children is a running maximum, so run the lighter scenarios first.
        order = ["uci-raw-duckdb", "uci-duckdb"] + (["uci-postgres"] if args.pg else [])
        for name in order:
            results.append(run_child(name, work, args.events, args.pg))
            print(json.dumps(results[-1]), flush=True)
        write_events(Path(work) / "events.parquet", args.events)
        for name in ("events-raw-duckdb", "events-parquet-duckdb"):
            results.append(run_child(name, work, args.events, args.pg))
            print(json.dumps(results[-1]), flush=True)
    by = {r["scenario"]: r for r in results}
    ratios = {
        "uci_duckdb_vs_raw_read_speed": round(by["uci-duckdb"]["rows_per_s"] / by["uci-raw-duckdb"]["rows_per_s"], 3),
        "events_vs_raw_read_speed": round(
            by["events-parquet-duckdb"]["rows_per_s"] / by["events-raw-duckdb"]["rows_per_s"], 3
        ),
    }
    payload = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "events": args.events,
        "results": results,
        "ratios": ratios,
        "note": "peak_rss_mb is the running maximum over the child processes run so far",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2))
    print(json.dumps(ratios))


if __name__ == "__main__":
    main()
