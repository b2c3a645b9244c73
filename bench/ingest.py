"""Ingestion benchmark (issue 2).

Scenarios, each run in its own subprocess so that peak memory (max RSS) belongs to it alone:
- uci-duckdb: `import uci-online-retail` of the real UCI file into a fresh DuckDB store;
- uci-raw-duckdb (baseline): DuckDB's own read_csv of the same file into a table, no validation;
- uci-postgres: the same import into PostgreSQL (when MARKETLOOP_TEST_PG_URL or --pg is given);
- events-parquet-duckdb: N synthetic events (default 10M) from one Parquet file into DuckDB;
- events-raw-duckdb (baseline): DuckDB's read_parquet of the same file into a table;
- orders-parquet-duckdb / order_lines-parquet-duckdb: N/4 orders and N/2 lines (fact tables, set-wise
  load), each with its raw read as a baseline (orders-raw-duckdb, order_lines-raw-duckdb);
- events-bounded-duckdb: the events load again with ingest_memory_limit 256MB (memory stays bounded).
Each fact load and its raw read run alternately --repeat times (default 3); the fastest of each counts.

Writes bench/results/ingest.json. Usage: python bench/ingest.py [--events 10000000] [--pg URL]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

    for old in Path(work).glob("*.duckdb*"):  # every run starts from an empty store (repeats included)
        old.unlink()
    started = time.perf_counter()
    if name == "uci-raw-duckdb":
        con = duckdb.connect(str(Path(work) / "raw.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{UCI}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
    elif name.endswith("-raw-duckdb"):
        table = name.removesuffix("-raw-duckdb")
        con = duckdb.connect(str(Path(work) / f"raw-{table}.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{Path(work) / (table + '.parquet')}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
    else:
        url = pg if name == "uci-postgres" else f"duckdb:///{Path(work) / (name + '.duckdb')}"
        limit = "256MB" if name == "events-bounded-duckdb" else None
        settings = load_settings(db_url=url, secret_file=Path(work) / "pii.key", ingest_memory_limit=limit)
        store = open_store(url)
        started = time.perf_counter()
        if name.startswith("uci"):
            summary = load_file(store, "uci-online-retail", UCI, settings=settings)
        elif name.startswith("order_lines"):
            # order lines reference orders and products: load those first (not timed)
            load_file(store, "products", Path(work) / "products.parquet", settings=settings)
            load_file(store, "orders", Path(work) / "orders.parquet", settings=settings)
            started = time.perf_counter()
            summary = load_file(store, "order_lines", Path(work) / "order_lines.parquet", settings=settings)
        elif name.startswith("orders"):
            summary = load_file(store, "orders", Path(work) / "orders.parquet", settings=settings)
        else:
            summary = load_file(store, "events", Path(work) / "events.parquet", settings=settings)
        rows = summary.rows_read
        store.close()
    seconds = time.perf_counter() - started
    return {
        "scenario": name,
        "rows": int(rows),
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
    }


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


def write_orders(work: Path, n_orders: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    start = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
    orders = pa.table(
        {
            "order_id": pa.array(np.char.add("o", np.arange(n_orders).astype(str))),
            "customer_id": pa.array(np.char.add("c", rng.integers(0, 1_000_000, n_orders).astype(str))),
            "ordered_at": pa.array(
                start + np.sort(rng.integers(0, 300 * 86_400_000_000, n_orders)), pa.timestamp("us")
            ),
            "status": pa.array(np.full(n_orders, "completed")),
            "is_return": pa.array(np.zeros(n_orders, dtype=bool)),
            "total": pa.array(np.round(rng.gamma(2.0, 30.0, n_orders), 2)),
        }
    )
    pq.write_table(orders, work / "orders.parquet", row_group_size=1_000_000)
    n_lines = 2 * n_orders
    lines = pa.table(
        {
            "order_id": pa.array(np.char.add("o", (np.arange(n_lines) // 2).astype(str))),
            "line_no": pa.array((np.arange(n_lines) % 2 + 1).astype(np.int64)),
            "product_id": pa.array(np.char.add("p", rng.integers(0, 20_000, n_lines).astype(str))),
            "quantity": pa.array(rng.integers(1, 4, n_lines)),
            "unit_price": pa.array(np.round(rng.gamma(2.0, 10.0, n_lines), 2)),
        }
    )
    pq.write_table(lines, work / "order_lines.parquet", row_group_size=1_000_000)
    # order lines reference products: a catalogue with every product id
    products = pa.table(
        {
            "product_id": pa.array(np.char.add("p", np.arange(20_000).astype(str))),
            "name": pa.array(np.full(20_000, "x")),
        }
    )
    pq.write_table(products, work / "products.parquet")


def run_child(name: str, work: str, events: int, pg: str | None) -> dict:
    """Run one scenario in a child process; its peak RSS is that child's own (os.wait4)."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", name, "--work", work, "--events", str(events)]
            + (["--pg", pg] if pg else []),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{name} failed:\n{err.read()[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--pg", default=os.environ.get("MARKETLOOP_TEST_PG_URL"))
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each fact load and raw read")
    parser.add_argument("--child")
    parser.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "ingest.json"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(scenario(args.child, args.work, args.events, args.pg)))
        return
    if args.write:
        write_events(Path(args.work) / "events.parquet", args.events)
        write_orders(Path(args.work), args.events // 4)
        return
    if not UCI.exists():
        sys.exit(f"UCI file not found at {UCI}; set MARKETLOOP_SHARED_DATA")
    results = []
    with tempfile.TemporaryDirectory() as work:
        order = ["uci-raw-duckdb", "uci-duckdb"] + (["uci-postgres"] if args.pg else [])
        for name in order:
            results.append(run_child(name, work, args.events, args.pg))
            print(json.dumps(results[-1]), flush=True)
        # Written by a child: a child forked from a parent that held the data would inherit its peak RSS.
        subprocess.run([sys.executable, __file__, "--write", "--work", work, "--events", str(args.events)], check=True)
        results.append(run_child("events-bounded-duckdb", work, args.events, args.pg))
        print(json.dumps(results[-1]), flush=True)
        # On a shared machine the load changes from one minute to the next: each fact table's load and its
        # raw read run alternately `--repeat` times, and the fastest of each counts.
        for table in ("orders", "order_lines", "events"):
            runs: dict[str, list[dict]] = {f"{table}-raw-duckdb": [], f"{table}-parquet-duckdb": []}
            for _ in range(args.repeat):
                for name, got in runs.items():
                    got.append(run_child(name, work, args.events, args.pg))
                    print(json.dumps(got[-1]), flush=True)
            for got in runs.values():
                best = min(got, key=lambda r: r["seconds"])
                results.append({**best, "runs_seconds": [r["seconds"] for r in got]})
    by = {r["scenario"]: r for r in results}
    ratios = {
        "uci_duckdb_vs_raw_read_speed": round(by["uci-duckdb"]["rows_per_s"] / by["uci-raw-duckdb"]["rows_per_s"], 3),
        **{
            f"{table}_vs_raw_read_speed": round(
                by[f"{table}-parquet-duckdb"]["rows_per_s"] / by[f"{table}-raw-duckdb"]["rows_per_s"], 3
            )
            for table in ("events", "orders", "order_lines")
        },
    }
    payload = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "events": args.events,
        "results": results,
        "ratios": ratios,
        "note": "peak_rss_mb is each scenario's own process (os.wait4); fact tables: fastest of --repeat runs",
        "load_average_at_end": os.getloadavg(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2))
    print(json.dumps(ratios))


if __name__ == "__main__":
    main()
