"""A stationary synthetic store for the monitor: customers sign up evenly over 420 days and order and visit
at their own steady rates, so the distribution of every customer feature is the same at day 390 and at
day 420 (up to sampling noise) unless a test injects a shift."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from marketloop.store import schema
from marketloop.store.bulk import insert_frame

START = dt.datetime(2025, 1, 1)
DAYS = 420


def day(d: float) -> dt.datetime:
    return START + dt.timedelta(days=float(d))


def build_stationary_store(store, n: int = 2500, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"c{i:05d}" for i in range(n)]
    signup = rng.uniform(0, DAYS, n)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "country": rng.choice(["United Kingdom", "Germany", "France"], n, p=[0.6, 0.25, 0.15]),
            "time_zone": "Europe/London",
            "language": "en",
            "signup_at": [day(s) for s in signup],
            "is_guest": False,
        }
    )
    products = pd.DataFrame(
        {
            "product_id": [f"p{i}" for i in range(40)],
            "name": [f"Product {i}" for i in range(40)],
            "category": [["home", "garden", "toys", "books"][i % 4] for i in range(40)],
            "price": [float(5 + i % 10 * 3) for i in range(40)],
            "cost": [float(2 + i % 10) for i in range(40)],
            "is_product": True,
            "hidden": False,
        }
    )
    rate = rng.gamma(2.0, 0.5, n) / 30.0  # orders per day
    orders, lines, events = [], [], []
    for i, cid in enumerate(ids):
        k = rng.poisson(rate[i] * (DAYS - signup[i]))
        for j, t in enumerate(np.sort(rng.uniform(signup[i], DAYS, k))):
            oid = f"o{i}-{j}"
            pid = f"p{rng.integers(0, 40)}"
            qty = int(rng.integers(1, 4))
            price = float(products.loc[int(pid[1:]), "price"])
            orders.append((oid, cid, day(t), "completed", False, qty * price))
            lines.append((oid, 1, pid, qty, price))
        s = rng.poisson(3 * rate[i] * (DAYS - signup[i]))
        for j, t in enumerate(rng.uniform(signup[i], DAYS, s)):
            for v in range(int(rng.integers(1, 4))):
                kind = "add_to_cart" if v == 2 else "view"
                events.append((f"e{i}-{j}-{v}", cid, f"s{i}-{j}", kind, f"p{rng.integers(0, 40)}", day(t)))
    returned = [o for o in orders if rng.random() < 0.04]
    for k, (_oid, cid, ts, *_rest) in enumerate(returned):
        orders.append((f"r{k}", cid, ts + dt.timedelta(days=3), "returned", True, -10.0))
    consents = customers[["customer_id"]].assign(channel="email", status="granted", updated_at=customers["signup_at"])[
        rng.random(n) < 0.85
    ]
    with store.begin() as conn:
        insert_frame(conn, schema.customers, customers)
        insert_frame(conn, schema.products, products)
        insert_frame(
            conn,
            schema.orders,
            pd.DataFrame(orders, columns=["order_id", "customer_id", "ordered_at", "status", "is_return", "total"]),
        )
        insert_frame(
            conn,
            schema.order_lines,
            pd.DataFrame(lines, columns=["order_id", "line_no", "product_id", "quantity", "unit_price"]),
        )
        insert_frame(
            conn,
            schema.events,
            pd.DataFrame(events, columns=["event_id", "customer_id", "session_id", "event_type", "product_id", "ts"]),
        )
        insert_frame(conn, schema.consents, consents)


def inject_returns(store, share: float = 0.4, per_customer: int = 2, after: float = 390.0, seed: int = 11) -> int:
    """Return orders for a share of the customers in the current window: only the `returns` feature moves."""
    rng = np.random.default_rng(seed)
    ids = store.read_sql(f"SELECT customer_id FROM customers WHERE signup_at < '{day(after)}'")["customer_id"]
    chosen = [c for c in ids if rng.random() < share]
    rows = [
        (f"x{c}-{k}", c, day(rng.uniform(after, DAYS)), "returned", True, -15.0)
        for c in chosen
        for k in range(per_customer)
    ]
    with store.begin() as conn:
        insert_frame(
            conn,
            schema.orders,
            pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "status", "is_return", "total"]),
        )
    return len(rows)


# --------------------------------------------------------------------------------------------- fixtures
import json  # noqa: E402
import threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def stationary(tmp_path_factory):
    """The stationary store (built once per module; tests copy what they change)."""
    from marketloop.store import open_store

    path = tmp_path_factory.mktemp("stationary") / "base.duckdb"
    with open_store(f"duckdb:///{path}") as store:
        build_stationary_store(store)
    return path


@pytest.fixture
def alert_receiver():
    """A local HTTP endpoint recording signed alert posts (body, signature valid or not)."""
    from marketloop.delivery.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

    got: list[dict] = []
    secret = "a-shared-alert-secret"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verify_signature(secret, self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER])
            got.append({"body": json.loads(body), "signed": ok, "key": self.headers["Idempotency-Key"]})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", secret, got
    server.shutdown()
    server.server_close()
