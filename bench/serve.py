"""Serving benchmark: requests/s and latency of a recommendations route against the trivial /healthz of
the same server and against a bare FastAPI app (one JSON route, no middleware; ``bench/bare_app.py``) served
the same way, in the same run, at 64 concurrent connections. Writes bench/results/serve.json (or
serve-workers<N>.json with --workers N).

    .venv/bin/python bench/serve.py [--customers 5000] [--duration 10] [--connections 64] [--rounds 2]
    .venv/bin/python bench/serve.py --workers 2 --build-into postgresql://postgres@127.0.0.1:5432/DB

It builds a simulated store (in DuckDB, or in the PostgreSQL / MySQL database given by --build-into; or uses
--db URL with trained models and --models-dir), trains the recommendation models, creates a storefront API
key, starts `marketloop serve` as its own process (--workers uvicorn processes, access log off, rate limits
lifted) and the bare app with as many processes, and drives them with wrk (Debian package `wrk`) on one
thread. Routes alternate (bare, healthz, recs, bare, ...) so that background noise hits all alike; the
figures are the medians over rounds. The recommendation requests rotate over customers with a purchase
history, with the default business rules (exclude bought, max per category).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_store(work: Path, customers: int, url: str | None = None) -> tuple[str, Path]:
    from marketloop.config import load_settings
    from marketloop.customers.profile import refresh_profiles
    from marketloop.recs.training import train_from_store
    from marketloop.sim.generate import generate_store
    from marketloop.store import open_store
    from marketloop.store.ingest import load_dataset

    url = url or f"duckdb:///{work / 'bench.duckdb'}"
    models = work / "models"
    manifest = generate_store(work / "sim", customers=customers, products=300, days=180, seed=3)
    settings = load_settings(db_url=url, secret_file=work / "pii.key")
    with open_store(url) as store:
        load_dataset(store, work / "sim", manifest.files, settings=settings)
        refresh_profiles(store)
        train_from_store(store, models, model="hybrid", cache_dir=str(work / "cache"))
    return url, models


def customer_ids(url: str, limit: int = 500) -> list[str]:
    from marketloop.store import open_store

    with open_store(url) as store:
        frame = store.read_sql(
            "SELECT DISTINCT customer_id FROM orders WHERE customer_id IS NOT NULL "
            f"ORDER BY customer_id LIMIT {int(limit)}"
        )
    return [str(c) for c in frame["customer_id"]]


def wrk(url: str, path_script: Path | None, duration: int, connections: int, key: str) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-H", f"Authorization: Bearer {key}"]
    if path_script is not None:
        cmd += ["-s", str(path_script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {}
    for label, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        pct[label] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {
        "requests": total,
        "rps": rps,
        "p50_ms": pct.get("50"),
        "p90_ms": pct.get("90"),
        "p99_ms": pct.get("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else None,
    }


def check_empty(url: str) -> None:
    """The benchmark builds its store in a database of its own: refuse one that already holds a store."""
    from marketloop.errors import NotFoundError
    from marketloop.store import open_store

    try:
        open_store(url, create=False).close()
    except NotFoundError:
        return
    sys.exit(f"--build-into {url} already holds a MarketLoop store: give an empty database")


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120.0, path: str = "/readyz") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(base + path, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--db", help="use this store (with promoted recommendation models) instead of building one")
    ap.add_argument("--models-dir", help="models folder of --db")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per route")
    ap.add_argument("--n", type=int, default=10, help="recommendations per request")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn processes of the server and of the bare app")
    ap.add_argument("--build-into", help="build the simulated store in this empty PostgreSQL / MySQL database")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    from marketloop.service.keys import create_key
    from marketloop.store import open_store

    work = Path(tempfile.mkdtemp(prefix="ml-bench-serve-"))
    t0 = time.perf_counter()
    if args.db:
        url, models = args.db, Path(args.models_dir or ".marketloop/models")
    else:
        if args.build_into:
            check_empty(args.build_into)
        url, models = build_store(work, args.customers, args.build_into)
    setup_s = time.perf_counter() - t0
    with open_store(url) as store:
        key = create_key(store, "bench", "storefront").token
    ids = customer_ids(url)
    script = work / "foryou.lua"
    script.write_text(
        "local ids = {" + ",".join(json.dumps(i) for i in ids) + "}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        f"  return wrk.format('GET', '/v1/recommendations/for-you/' .. ids[(i % #ids) + 1] .. '?n={args.n}')\n"
        "end\n"
    )
    port = free_port()
    env = os.environ | {
        "MARKETLOOP_API_RATE_LIMIT": "1000000000",
        "MARKETLOOP_API_RATE_BURST": "1000000000",
        "MARKETLOOP_API_ROLE_RATE_LIMITS": '{"storefront": 1000000000}',
        "MARKETLOOP_API_ROLE_RATE_BURSTS": '{"storefront": 1000000000}',
        "MARKETLOOP_RUN_SCHEDULES": "false",
        "MARKETLOOP_MODELS_DIR": str(models),
        "MARKETLOOP_SESSION_SECRET_FILE": str(work / "session.key"),
        "HF_HUB_OFFLINE": "1",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marketloop",
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--no-access-log",
            "--no-worker",
            "--workers",
            str(args.workers),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    bare_port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--app-dir",
            str(ROOT / "bench"),
            "--port",
            str(bare_port),
            "--workers",
            str(args.workers),
            "--loop",
            "asyncio",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    bare_base = f"http://127.0.0.1:{bare_port}"
    try:
        wait_ready(base, server)
        wait_ready(bare_base, bare, path="/hello")
        # warm up: load the models and JIT paths, check the route answers 200
        req = urllib.request.Request(
            f"{base}/v1/recommendations/for-you/{ids[0]}?n={args.n}", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            sample = json.loads(r.read())
        wrk(bare_base + "/hello", None, 2, args.connections, key)
        wrk(base + "/healthz", None, 2, args.connections, key)
        wrk(base, script, 2, args.connections, key)
        runs: dict[str, list[dict]] = {"bare_fastapi": [], "healthz": [], "recs": []}
        for _ in range(args.rounds):
            runs["bare_fastapi"].append(wrk(bare_base + "/hello", None, args.duration, args.connections, key))
            runs["healthz"].append(wrk(base + "/healthz", None, args.duration, args.connections, key))
            runs["recs"].append(wrk(base, script, args.duration, args.connections, key))
    finally:
        for proc in (server, bare):
            proc.terminate()
            proc.wait(timeout=30)

    def med(name: str, field: str) -> float:
        return round(statistics.median(r[field] for r in runs[name]), 3)

    result = {
        "benchmark": "serve",
        "command": " ".join(["python", "bench/serve.py", *sys.argv[1:]]),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_before": os.getloadavg(),
        },
        "store": {
            "url": "built" if not args.db else "given",
            "customers": args.customers if not args.db else None,
            "setup_s": round(setup_s, 1),
            "sample_items": len(sample.get("items", [])),
            "sample_source": (sample.get("items") or [{}])[0].get("source"),
        },
        "backend": url.split(":", 1)[0],
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "bare_fastapi": {
            "rps": med("bare_fastapi", "rps"),
            "p50_ms": med("bare_fastapi", "p50_ms"),
            "p99_ms": med("bare_fastapi", "p99_ms"),
        },
        "healthz": {
            "rps": med("healthz", "rps"),
            "p50_ms": med("healthz", "p50_ms"),
            "p99_ms": med("healthz", "p99_ms"),
        },
        "recs": {"rps": med("recs", "rps"), "p50_ms": med("recs", "p50_ms"), "p99_ms": med("recs", "p99_ms")},
        "runs": runs,
    }
    result["ratio_rps"] = round(result["recs"]["rps"] / result["healthz"]["rps"], 3)
    result["ratio_rps_vs_bare_fastapi"] = round(result["recs"]["rps"] / result["bare_fastapi"]["rps"], 3)
    result["targets"] = {"ratio_rps>=0.5": result["ratio_rps"] >= 0.5, "recs_p99_ms<20": result["recs"]["p99_ms"] < 20}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "serve.json" if args.workers == 1 else f"serve-workers{args.workers}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))
    keys = (
        "backend",
        "workers",
        "bare_fastapi",
        "healthz",
        "recs",
        "ratio_rps",
        "ratio_rps_vs_bare_fastapi",
        "targets",
    )
    print(json.dumps({k: result[k] for k in keys}, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
