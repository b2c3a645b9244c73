"""Fixtures for delivery tests: a small store, plans built directly, and real local servers
(aiosmtpd SMTP on 127.0.0.1, a threaded HTTP webhook receiver)."""

from __future__ import annotations

import datetime as dt
import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from marketloop.store import open_store, schema
from marketloop.store.campaigns import CampaignPlan, GroupPlan, Offer, Variant, save_plan, set_status

T0 = dt.datetime(2025, 6, 2, 12, 0)  # a Monday, noon UTC


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(f"duckdb:///{tmp_path / 'ml.duckdb'}")
    yield s
    s.close()


def seed_customers(store, n: int, *, time_zone: str = "UTC", channels=("email",), prefix: str = "c") -> list[str]:
    ids = [f"{prefix}{i:04d}" for i in range(n)]
    with store.begin() as conn:
        conn.execute(
            schema.customers.insert(),
            [
                {
                    "customer_id": c,
                    "email_hash": f"{c}@example.com",
                    "phone_hash": f"+4470000{i:05d}",
                    "time_zone": time_zone,
                    "is_guest": False,
                }
                for i, c in enumerate(ids)
            ],
        )
        conn.execute(
            schema.consents.insert(),
            [{"customer_id": c, "channel": ch, "status": "granted", "updated_at": T0} for c in ids for ch in channels],
        )
        if not store.count("products"):
            conn.execute(
                schema.products.insert(),
                [
                    {
                        "product_id": f"p{i}",
                        "name": f"Product {i}",
                        "price": 20.0,
                        "cost": 12.0,
                        "is_product": True,
                        "hidden": False,
                    }
                    for i in range(5)
                ],
            )
    return ids


def make_plan(
    store,
    campaign_id: str,
    customers: list[str],
    *,
    holdout: float = 0.2,
    channel: str = "email",
    variants: tuple[str, ...] = ("a",),
    groups: int = 1,
    approve: bool = True,
) -> CampaignPlan:
    plan = CampaignPlan(
        campaign_id=campaign_id,
        name=f"Test {campaign_id}",
        objective="test",
        created_at=T0,
        holdout_fraction=holdout,
        window_days=14,
        variants=[
            Variant(name=v, channel=channel, offer=Offer(discount=0.1 if i else 0.0)) for i, v in enumerate(variants)
        ],
        groups=[GroupPlan(group=f"g{g}", included=True, customers=0, reason="test") for g in range(groups)],
    )
    audience = pd.DataFrame(
        {
            "customer_id": customers,
            "group_name": [f"g{i % groups}" for i in range(len(customers))],
            "variant": [variants[i % len(variants)] for i in range(len(customers))],
            "channel": channel,
            "discount": [0.1 if (i % len(variants)) else 0.0 for i in range(len(customers))],
        }
    )
    save_plan(store, plan, audience)
    if approve:
        set_status(store, campaign_id, "approved")
    return plan


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """What the SMTP server received: every message (raw), and the set of Message-IDs. The optional
    gate blocks the server's reply to message number ``gate_at`` until released."""

    def __init__(self) -> None:
        self.raw: list[tuple[str, str]] = []  # (message-id, recipient)
        self.messages: list[email.message.Message] = []  # the parsed messages, headers included
        self.lock = threading.Lock()
        self.gate_at: int | None = None
        self.reached = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        with self.lock:
            self.raw.append((msg["Message-ID"], envelope.rcpt_tos[0]))
            self.messages.append(msg)
            count = len(self.raw)
        if self.gate_at is not None and count == self.gate_at:
            self.reached.set()
            import asyncio

            for _ in range(200):  # the test kills the client meanwhile
                if self.release.is_set():
                    break
                await asyncio.sleep(0.05)
        return "250 OK"

    @property
    def unique(self) -> set[str]:
        with self.lock:
            return {mid for mid, _ in self.raw}


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    box.release.set()
    controller.stop()


class WebhookReceiver:
    """A local HTTP endpoint that fails the first ``fail_first`` requests (HTTP 503), then accepts;
    it records accepted deliveries by idempotency key and verifies signatures."""

    def __init__(self, secret: str, fail_first: int = 0, always_fail: bool = False) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.requests = 0
        self.accepted: list[str] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()


@pytest.fixture
def webhook_server():
    servers = []

    def start(secret: str, **kwargs) -> WebhookReceiver:
        from marketloop.delivery.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

        receiver = WebhookReceiver(secret, **kwargs)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests += 1
                    failing = receiver.always_fail or receiver.requests <= receiver.fail_first
                    if not failing:
                        ok = verify_signature(
                            receiver.secret,
                            self.headers[TIMESTAMP_HEADER],
                            body,
                            self.headers[SIGNATURE_HEADER],
                            now=dt.datetime.fromtimestamp(float(self.headers[TIMESTAMP_HEADER]), dt.UTC).replace(
                                tzinfo=None
                            ),
                        )
                        receiver.bad_signatures += not ok
                        receiver.accepted.append(self.headers["Idempotency-Key"])
                        assert json.loads(body)["idempotency_key"] == self.headers["Idempotency-Key"]
                self.send_response(503 if failing else 200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        servers.append(server)
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
