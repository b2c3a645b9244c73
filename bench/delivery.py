"""Dispatcher throughput: messages per second to the simulator channel and to a local SMTP server
(aiosmtpd on 127.0.0.1), each through the full outbox (checks, state commits). Writes
bench/results/delivery.json.

    PYTHONPATH=src python bench/delivery.py --messages 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import socket
import tempfile
import time
from pathlib import Path

import pandas as pd

from marketloop.delivery.channels import ChannelRouter
from marketloop.delivery.checks import SendPolicy
from marketloop.delivery.dispatcher import Dispatcher, SimClock
from marketloop.delivery.outbox import launch
from marketloop.store import open_store, schema
from marketloop.store.campaigns import CampaignPlan, GroupPlan, Variant, save_plan, set_status

T0 = dt.datetime(2025, 6, 2, 12)


def _store(root: Path, n: int):
    store = open_store(f"duckdb:///{root / 'b.duckdb'}")
    ids = [f"c{i:06d}" for i in range(n)]
    with store.begin() as c:
        c.execute(
            schema.customers.insert(),
            [{"customer_id": x, "email_hash": f"{x}@example.com", "time_zone": "UTC", "is_guest": False} for x in ids],
        )
        c.execute(
            schema.consents.insert(),
            [{"customer_id": x, "channel": "email", "status": "granted", "updated_at": T0} for x in ids],
        )
        c.execute(
            schema.products.insert(),
            [{"product_id": "p1", "name": "P", "price": 10.0, "is_product": True, "hidden": False}],
        )
    return store, ids


def _campaign(store, cid: str, ids: list[str]) -> None:
    plan = CampaignPlan(
        campaign_id=cid,
        name=cid,
        objective="bench",
        created_at=T0,
        holdout_fraction=0.0,
        variants=[Variant(name="a")],
        groups=[GroupPlan(group="g", included=True, customers=len(ids), reason="bench")],
    )
    save_plan(
        store,
        plan,
        pd.DataFrame({"customer_id": ids, "group_name": "g", "variant": "a", "channel": "email", "discount": 0.0}),
    )
    set_status(store, cid, "approved")
    launch(store, cid, force_no_holdout=True)


def bench_smtp(n: int) -> dict:
    from aiosmtpd.controller import Controller

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            Sink.count += 1
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store, ids = _store(Path(tmp), n)
            _campaign(store, "smtp", ids)
            router = ChannelRouter({"email": {"provider": "smtp", "host": "127.0.0.1", "port": port}})
            started = time.perf_counter()
            result = Dispatcher(store, router, policy=SendPolicy(global_cap=10), clock=SimClock(T0)).run("smtp")
            seconds = time.perf_counter() - started
            store.close()
        received = Sink.count
        # baseline in the same process: the same number of messages through smtplib alone (no outbox)
        import smtplib
        from email.message import EmailMessage

        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as conn:
            for i in range(n):
                mail = EmailMessage()
                mail["From"], mail["To"], mail["Subject"] = "a@example.com", f"c{i}@example.com", "hello"
                mail["Message-ID"] = f"<raw{i}@bench>"
                mail.set_content("We picked these for you.")
                conn.send_message(mail)
        raw_seconds = time.perf_counter() - started
    finally:
        controller.stop()
    return {
        "messages": result.sent,
        "received": received,
        "seconds": round(seconds, 2),
        "per_s": round(result.sent / seconds, 1),
        "baseline_smtplib_only_per_s": round(n / raw_seconds, 1),
    }


def bench_sim(n: int) -> dict:
    from marketloop.config import load_settings
    from marketloop.delivery.simulate import run_simulated
    from marketloop.sim import generate_store
    from marketloop.store.ingest import load_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = generate_store(root / "sim", customers=n, products=100, days=30, seed=1)
        settings = load_settings(db_url=f"duckdb:///{root / 's.duckdb'}", secret_file=root / "k")
        store = open_store(settings.db_url)
        load_dataset(store, root / "sim", manifest.files, settings=settings)
        ids = store.read_sql("select customer_id from customers order by 1")["customer_id"].tolist()
        plan = CampaignPlan(
            campaign_id="sim",
            name="sim",
            objective="bench",
            created_at=T0,
            holdout_fraction=0.1,
            variants=[Variant(name="a")],
            groups=[GroupPlan(group="g", included=True, customers=n, reason="bench")],
        )
        save_plan(
            store,
            plan,
            pd.DataFrame({"customer_id": ids, "group_name": "g", "variant": "a", "channel": "email", "discount": 0.0}),
        )
        set_status(store, "sim", "approved")
        started = time.perf_counter()
        launch(store, "sim")
        launched = time.perf_counter() - started
        result = run_simulated(store, "sim", root / "sim")
        seconds = time.perf_counter() - started
        store.close()
        # baseline in the same process: drawing the same customers' responses directly from the world
        from marketloop.delivery.channels.sim import load_world
        from marketloop.sim import Message

        world = load_world(str((root / "sim").resolve()))
        started = time.perf_counter()
        world.respond(ids, Message(channel="email"), seed=0)
        raw_seconds = time.perf_counter() - started
    return {
        "audience": n,
        "sent": result.sent,
        "skipped": result.skipped,
        "launch_seconds": round(launched, 2),
        "seconds": round(seconds, 2),
        "audience_per_s": round(n / seconds, 1),
        "baseline_respond_only_per_s": round(n / raw_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    results = {
        "machine": {"python": platform.python_version(), "cores": 2},
        "smtp": bench_smtp(args.messages),
        "simulator": bench_sim(args.messages * 5),
    }
    out = Path("bench/results/delivery.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
