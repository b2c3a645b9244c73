"""Benchmark: refreshing customer profiles (`marketloop analyze`) on a synthetic store.

    PYTHONPATH=src python bench/customers.py --customers 1000000 --lines 20000000

Generates a store in a temporary DuckDB file (customers buy at a personal rate until they lapse, a
BG/NBD-like process; each order has ~3 lines), then times `refresh_profiles` step by step. Writes
bench/results/customers.json. Generation time is reported separately and not counted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from marketloop.customers.profile import AnalyzeConfig, refresh_profiles  # noqa: E402
from marketloop.store import open_store  # noqa: E402

START = np.datetime64("2023-01-01T00:00:00")
SPAN_DAYS = 730


def generate(store, n_customers: int, n_lines: int, seed: int = 0) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    lines_per_order = 3.0
    target_orders = n_lines / lines_per_order
    first = rng.uniform(0, 365, n_customers)
    rate = rng.gamma(1.2, 1.0, n_customers)
    p_drop = rng.beta(1.0, 4.0, n_customers)
    # scale the purchase rate so that the expected number of orders hits the target
    exposure = SPAN_DAYS - first
    cap = rng.geometric(p_drop)
    raw = np.minimum(rng.poisson(rate * exposure / 60), cap)
    scale = (target_orders / n_customers - 1) / max(raw.mean(), 1e-9)
    repeat = np.minimum(rng.poisson(rate * scale * exposure / 60), cap * max(int(np.ceil(scale)), 1))
    n_orders = 1 + repeat
    cust = np.repeat(np.arange(n_customers), n_orders)
    # order times: first purchase, then uniform times inside the customer's active window
    active = np.minimum(exposure, exposure * np.clip(rng.beta(2, 1, n_customers), 0.05, 1))
    is_first = np.r_[True, cust[1:] != cust[:-1]]
    offset = np.where(is_first, 0.0, rng.random(len(cust)) * active[cust])
    days = first[cust] + offset
    order_no = np.arange(len(cust))
    n_per_order = 1 + rng.poisson(lines_per_order - 1, len(cust))
    line_order = np.repeat(order_no, n_per_order)
    line_no = np.arange(len(line_order)) - np.repeat(np.cumsum(n_per_order) - n_per_order, n_per_order) + 1
    n_products = 5000
    favourite = rng.integers(0, 50, n_customers)
    category_of_line = np.where(
        rng.random(len(line_order)) < 0.7, favourite[cust[line_order]], rng.integers(0, 50, len(line_order))
    )
    product = category_of_line + 50 * rng.integers(0, n_products // 50, len(line_order))
    price = np.round(2 + (np.arange(n_products) % 97) * 1.5, 2)
    qty = 1 + rng.poisson(0.5, len(line_order))
    amount = qty * price[product]
    totals = np.bincount(line_order, weights=amount, minlength=len(cust))
    ts = START + (days * 86400).astype("timedelta64[s]")
    products = pd.DataFrame(
        {
            "pid": np.arange(n_products),
            "cat": np.arange(n_products) % 50,
            "brand": np.arange(n_products) % 200,
            "price": price,
        }
    )
    orders = pd.DataFrame({"o": order_no, "c": cust, "ts": ts, "total": totals})
    lines = pd.DataFrame({"o": line_order, "l": line_no, "p": product, "q": qty, "price": price[product]})
    with store.begin() as conn:
        raw_conn = conn.connection.driver_connection
        raw_conn.register("g_products", products)
        raw_conn.execute(
            "INSERT INTO products (product_id, name, category, brand, price, is_product, hidden) "
            "SELECT 'p' || pid, 'Product ' || pid, 'cat' || cat, 'brand' || brand, price, true, false FROM g_products"
        )
        raw_conn.register("g_orders", orders)
        raw_conn.execute(
            "INSERT INTO orders (order_id, customer_id, ordered_at, status, is_return, total) "
            "SELECT 'o' || o, 'c' || c, ts, 'completed', false, total FROM g_orders"
        )
        raw_conn.register("g_lines", lines)
        raw_conn.execute(
            "INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price) "
            "SELECT 'o' || o, l, 'p' || p, q, price FROM g_lines"
        )
        for name in ("g_products", "g_orders", "g_lines"):
            raw_conn.unregister(name)
    return {
        "customers": int(n_customers),
        "orders": int(len(orders)),
        "order_lines": int(len(lines)),
        "products": n_products,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--db", default=None, help="reuse this DuckDB file (generated when empty)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "customers.json"))
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.db or str(Path(tmp.name) / "bench.duckdb")
    store = open_store(f"duckdb:///{path}")
    started = time.perf_counter()
    if store.count("orders") == 0:
        sizes = generate(store, args.customers, args.lines)
    else:
        sizes = {"customers": None, "orders": store.count("orders"), "order_lines": store.count("order_lines")}
    generate_s = time.perf_counter() - started
    load_before = os.getloadavg()
    cpu_started = time.process_time()
    started = time.perf_counter()
    report = refresh_profiles(
        store,
        dt.date(2024, 12, 31),
        AnalyzeConfig(),
        progress=lambda step: print(f"{time.perf_counter() - started:8.1f}s  {step}", flush=True),
        force=True,
    )  # a reused --db would otherwise skip an unchanged refresh
    total = time.perf_counter() - started
    result = {
        "benchmark": "customers.refresh_profiles",
        "data": sizes,
        "profiles": report["customers"],
        "generate_seconds": round(generate_s, 1),
        "refresh_seconds": round(total, 1),
        "refresh_cpu_seconds": round(time.process_time() - cpu_started, 1),
        "steps_seconds": report["timings_s"],
        "churn_winner": report["churn"]["winner"],
        "churn_validation": report["churn"]["validation"],
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "command": " ".join(sys.argv),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    store.close()


if __name__ == "__main__":
    main()
