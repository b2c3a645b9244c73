"""A dispatcher killed with SIGKILL in the middle of a campaign and restarted delivers every message,
and the only repeat is the one message that was on the wire, with the same Message-ID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from marketloop.store import open_store

from .conftest import make_plan, seed_customers

REPO = Path(__file__).resolve().parents[2]
N = 40


def _dispatch_cmd(db: str, channels: Path, policy: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "marketloop",
        "campaign",
        "dispatch",
        "c1",
        "--db",
        db,
        "--channels",
        str(channels),
        "--policy",
        str(policy),
        "--json",
    ]


def test_sigkill_mid_campaign_then_restart_delivers_every_message_exactly_once(tmp_path, smtp_server):
    db = f"duckdb:///{tmp_path / 'crash.duckdb'}"
    with open_store(db) as store:
        ids = seed_customers(store, N)
        make_plan(store, "c1", ids, holdout=0.0)
        from marketloop.delivery.outbox import launch

        launch(store, "c1", force_no_holdout=True)
    channels = tmp_path / "channels.json"
    channels.write_text(json.dumps({"email": {"provider": "smtp", "host": "127.0.0.1", "port": smtp_server.port}}))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"quiet_start": 0, "quiet_end": 0}))  # no quiet hours: the wall clock decides nothing
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}

    smtp_server.gate_at = 17  # the server holds its reply to the 17th message: the client is mid-delivery
    log = tmp_path / "first-run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(_dispatch_cmd(db, channels, policy), env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert smtp_server.reached.wait(timeout=60), log.read_text()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        smtp_server.release.set()
    assert proc.returncode == -signal.SIGKILL
    assert len(smtp_server.raw) == 17

    # the dead dispatcher's lock is still fresh: a plain restart is refused, naming the holder
    refused = subprocess.run(_dispatch_cmd(db, channels, policy), env=env, capture_output=True, timeout=120)
    assert refused.returncode != 0 and b"is being dispatched by" in refused.stderr and b"--takeover" in refused.stderr
    done = subprocess.run(
        [*_dispatch_cmd(db, channels, policy), "--takeover"], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["stopped"] == "completed"

    with open_store(db) as store:
        sends = store.read_sql("select idempotency_key, status from sends")
    assert (sends["status"] == "sent").all()
    expected = {f"<{k}@marketloop.invalid>" for k in sends["idempotency_key"]}
    assert smtp_server.unique == expected  # every message arrived
    ids_seen = [mid for mid, _ in smtp_server.raw]
    repeats = {m for m in ids_seen if ids_seen.count(m) > 1}
    # the only repeat is the message whose reply the crash swallowed, resent with the same Message-ID
    assert len(ids_seen) == N + 1 and repeats == {ids_seen[16]}
