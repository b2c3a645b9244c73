"""The dispatcher worker: simulated delivery of API-launched campaigns, `marketloop worker --once` against a
real SMTP server, its state in the status route, its settings checks, and a CLI command refused clearly
while `marketloop serve` holds the DuckDB file."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marketloop.config import load_settings
from marketloop.errors import ConfigError
from marketloop.service.worker import Worker
from marketloop.store import open_store
from tests.delivery.conftest import free_port, make_plan, seed_customers, smtp_server  # noqa: F401 - smtp_server is a fixture
from tests.service.conftest import Api, assert_error, make_api, serve_process

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Path]]:
    """A simulated store (800 customers, no campaign history) served with the simulator as its channel."""
    from marketloop.sim import generate_store
    from marketloop.store.ingest import load_dataset

    root = tmp_path_factory.mktemp("simworker")
    manifest = generate_store(root / "sim", customers=800, products=60, days=20, seed=3)
    settings = load_settings(db_url=f"duckdb:///{root / 'ml.duckdb'}", secret_file=root / "pii.key")
    store = open_store(settings.db_url)
    load_dataset(store, root / "sim", manifest.files, settings=settings)
    for api in make_api(root, store=store, sim_dir=root / "sim"):
        yield api, root / "sim"
    store.close()


def _plan_approve_launch(api: Api, body: dict) -> dict:
    created = api.post("/v1/campaigns", "marketer", json=body)
    assert created.status_code == 201, created.text
    cid = created.json()["campaign_id"]
    assert api.post(f"/v1/campaigns/{cid}/approve", "marketer").status_code == 200
    launched = api.post(f"/v1/campaigns/{cid}/launch", "marketer").json()
    assert launched["status"] == "running", launched
    return created.json() | {"launch": launched["launch"]}


def test_simulated_campaign_is_delivered_by_the_worker_and_measured(sim) -> None:
    api, sim_dir = sim
    state = api.client.app.state.ml
    first = _plan_approve_launch(
        api, {"name": "Sim spring", "discounts": [0.0, 0.1], "explore": {"fraction": 0.5, "seed": 2}}
    )
    cid = first["campaign_id"]
    assert first["planning"]["explored"] is True  # no history: an exploration round ran in the simulator
    assert first["planning"]["history_campaigns"][0].startswith("explore-2-")
    waiting = api.get(f"/v1/campaigns/{cid}/status").json()
    assert waiting["outbox"]["queued"] == first["launch"]["queued"] > 0 and waiting["worker"]["in_process"] is False

    worker = Worker(api.store, state.settings)
    state.worker = worker  # what `marketloop serve` does, without the thread
    assert worker.status()["mode"] == "simulator" and worker.status()["passes"] == 0
    results = worker.run_once()
    assert set(results) == {cid}
    result = results[cid]
    assert result["stopped"] == "completed" and result["sent"] + result["skipped"] == first["launch"]["queued"]

    status = api.get(f"/v1/campaigns/{cid}/status", "analyst").json()
    assert status["status"] == "completed" and status["allowed_actions"] == []
    assert status["outbox"]["queued"] == 0 and status["outbox"]["sent"] == result["sent"] > 0
    w = status["worker"]
    assert w["in_process"] is True and w["mode"] == "simulator" and w["passes"] == 1
    assert w["last_pass_at"] is not None and w["last_pass_seconds"] >= 0 and w["last_error"] is None
    assert w["last_result"] == result

    report = api.get(f"/v1/campaigns/{cid}/report", "analyst").json()
    f = report["funnel"]
    assert f["sent"] == result["sent"] and f["holdout"] == first["launch"]["holdout"] and f["delivered"] > 0
    o = report["overall"]
    assert o["treated"] + o["holdout"] == first["launch"]["audience"]
    assert o["conversion_low"] <= o["conversion_lift"] <= o["conversion_high"]
    realised = {r["metric"]: r for r in report["prediction_vs_realised"]}
    assert (
        realised["incremental_revenue"]["realised"] is not None
        and realised["incremental_revenue"]["predicted"] is not None
    )
    assert "Funnel of the contacted customers" in api.get(f"/v1/campaigns/{cid}/report.html").text

    # a second plan learns from the store's latest randomised campaign: no new exploration round
    second = _plan_approve_launch(api, {"name": "Sim follow-up", "discounts": [0.1]})
    assert second["planning"]["explored"] is False and second["planning"]["history_campaigns"] == [cid]
    sid = second["campaign_id"]
    api.post(f"/v1/campaigns/{sid}/pause", "marketer")
    assert worker.run_once() == {}  # a paused campaign is left alone
    assert api.get(f"/v1/campaigns/{sid}/status").json()["outbox"]["queued"] == second["launch"]["queued"]
    api.post(f"/v1/campaigns/{sid}/resume", "marketer")
    assert worker.run_once()[sid]["stopped"] == "completed"
    assert api.get(f"/v1/campaigns/{sid}/status").json()["worker"]["passes"] == 3


def test_worker_command_delivers_an_api_launched_campaign_exactly_once(tmp_path, smtp_server, noon) -> None:  # noqa: F811
    from marketloop.cli.main import app

    url = f"duckdb:///{tmp_path / 'smtp.duckdb'}"
    store = open_store(url)
    ids = seed_customers(store, 10)
    make_plan(store, "c1", ids, holdout=0.2, approve=False)
    for api in make_api(tmp_path, store=store):
        assert api.post("/v1/campaigns/c1/approve", "marketer").status_code == 200
        assert api.post("/v1/campaigns/c1/launch", "marketer").json()["launch"]["queued"] == 8
    store.close()
    channels = tmp_path / "channels.json"
    channels.write_text(json.dumps({"email": {"provider": "smtp", "host": "127.0.0.1", "port": smtp_server.port}}))
    runner = CliRunner()
    args = ["worker", "--once", "--db", url, "--channels", str(channels), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)["campaigns"]["c1"]
    assert result["sent"] == 8 and result["stopped"] == "completed"
    assert len(smtp_server.raw) == 8 and len(smtp_server.unique) == 8
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.stdout) == {"campaigns": {}, "jobs": []}
    assert len(smtp_server.raw) == 8  # nothing delivered twice
    with open_store(url) as s:
        assert s.scalar("select status from campaigns where campaign_id = 'c1'") == "completed"
    nothing = runner.invoke(app, ["worker", "--once", "--db", url])
    assert nothing.exit_code != 0 and "no channels configured" in str(nothing.exception)


@pytest.mark.parametrize(
    ("clock", "sent"),
    [
        ("2026-11-10T12:00:00Z", 4),
        ("2026-11-10T22:30:00Z", 0),
        ("2026-11-11T03:00:00+00:00", 0),
        ("2026-11-10T17:30:00+05:30", 4),
    ],
)
def test_worker_reads_time_from_its_clock_setting_not_the_wall(tmp_path, smtp_server, clock, sent) -> None:  # noqa: F811
    """Quiet hours (21:00-08:00 in the customer's zone) are judged on the configured clock, whatever the hour
    the test runs at; the pass is stamped with that clock too."""
    from marketloop.clock import parse_clock
    from marketloop.delivery.outbox import launch
    from marketloop.store.campaigns import outbox_counts

    store = open_store(f"duckdb:///{tmp_path / 'clock.duckdb'}")
    make_plan(store, "c1", seed_customers(store, 5), holdout=0.2)
    launch(store, "c1")
    channels = tmp_path / "channels.json"
    channels.write_text(json.dumps({"email": {"provider": "smtp", "host": "127.0.0.1", "port": smtp_server.port}}))
    worker = Worker(store, load_settings(db_url=str(store.url), channels_file=channels, clock=clock))
    result = worker.run_once()["c1"]
    assert result["sent"] == sent and len(smtp_server.raw) == sent
    assert result["deferred"] == 4 - sent and outbox_counts(store, "c1")["queued"] == 4 - sent
    start = parse_clock(clock).now()
    assert abs((worker.last_pass_at - start).total_seconds()) < 600  # stamped on the configured clock, not the wall
    store.close()


def test_clock_setting_rejects_what_is_not_an_instant(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"clock: .*expected 'system' or an ISO-8601 instant.*'yesterday'"):
        load_settings(db_url=f"duckdb:///{tmp_path / 'x.duckdb'}", clock="yesterday")


def test_worker_leaves_locked_and_allocation_waiting_campaigns_alone(tmp_path, smtp_server) -> None:  # noqa: F811
    from marketloop.delivery import lock
    from marketloop.delivery.outbox import launch
    from marketloop.store.campaigns import outbox_counts

    store = open_store(f"duckdb:///{tmp_path / 'busy.duckdb'}")
    ids = seed_customers(store, 6)
    make_plan(store, "locked", ids, holdout=0.5)
    make_plan(store, "bandit", ids, holdout=0.5, variants=("a", "b"))
    launch(store, "locked")
    launch(store, "bandit", allocate=True)
    lock.acquire(store, "locked", "other-host:1:x", lease_s=60)  # another worker is delivering it
    channels = tmp_path / "channels.json"
    channels.write_text(json.dumps({"email": {"provider": "smtp", "host": "127.0.0.1", "port": smtp_server.port}}))
    worker = Worker(store, load_settings(db_url=str(store.url), channels_file=channels))
    assert worker.run_once() == {
        "locked": {"stopped": "dispatched by another worker"},
        "bandit": {"stopped": "waiting for allocation"},
    }
    assert smtp_server.raw == [] and outbox_counts(store, "locked")["queued"] == 3
    assert outbox_counts(store, "bandit")["waiting"] == 3
    store.close()


def test_server_without_channels_keeps_launched_campaigns_waiting_and_says_why(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from marketloop.service.app import create_app

    url = f"duckdb:///{tmp_path / 'idle.duckdb'}"
    store = open_store(url)
    make_plan(store, "c1", seed_customers(store, 4), holdout=0.5)
    app = create_app(load_settings(db_url=url, session_secret_file=tmp_path / "s.key"), store=store, background=True)
    with TestClient(app):
        worker = app.state.ml.worker
        assert worker is not None and worker.mode == "none"
        assert "marketloop-dispatcher" not in {
            t.name for t in threading.enumerate()
        }  # nothing to deliver with: no thread
        status = worker.status()
        assert status["passes"] == 0 and "MARKETLOOP_SIM_DIR" in status["note"]
    store.close()


def test_server_with_the_simulator_runs_the_dispatcher_thread_and_stops_it(sim, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from marketloop.service.app import create_app

    api, sim_dir = sim
    settings = load_settings(
        db_url=str(api.store.url), session_secret_file=tmp_path / "s.key", sim_dir=sim_dir, worker_interval_s=60
    )
    app = create_app(settings, store=api.store, background=True)
    with TestClient(app):
        assert "marketloop-dispatcher" in {t.name for t in threading.enumerate()}
    assert "marketloop-dispatcher" not in {t.name for t in threading.enumerate()}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"channels_file": ("ch.json", "{not json")}, "channels file"),
        ({"channels_file": ("ch.json", '{"fax": {"provider": "smtp"}}')}, "email"),
        ({"send_policy_file": ("policy.json", '{"quiet_start": "noon", "caps": 1}')}, "send_policy file"),
        ({"sim_dir": ("missing", None)}, "is not a folder"),
    ],
)
def test_bad_worker_settings_fail_before_serving(tmp_path, files, message) -> None:
    from marketloop.errors import InputError
    from marketloop.service.app import create_app

    overrides = {}
    for key, (name, text) in files.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        overrides[key] = tmp_path / name
    settings = load_settings(
        db_url=f"duckdb:///{tmp_path / 'w.duckdb'}", session_secret_file=tmp_path / "s.key", **overrides
    )
    with pytest.raises((ConfigError, InputError), match=message):
        create_app(settings)


def test_a_failed_pass_is_logged_and_the_loop_goes_on(sim, caplog) -> None:
    api, sim_dir = sim
    worker = Worker(api.store, load_settings(db_url=str(api.store.url), sim_dir=sim_dir, worker_interval_s=0.01))
    calls: list[int] = []

    def running() -> list[str]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the store went away")
        worker.stop()
        return []

    worker.running = running
    caplog.set_level(logging.ERROR, logger="marketloop.worker")
    worker.loop()
    assert len(calls) == 2 and worker.passes == 1 and worker.last_error is None
    assert any("dispatcher pass failed" in r.getMessage() for r in caplog.records)


def test_cli_on_a_duckdb_file_held_by_a_running_server_names_it(tmp_path) -> None:
    url = f"duckdb:///{tmp_path / 'held.duckdb'}"
    server, _, env = serve_process(tmp_path, ["--db", url, "--create", "--no-access-log"], {"COLUMNS": "300"})
    try:
        cli = subprocess.run(
            [sys.executable, "-m", "marketloop", "keys", "list", "--db", url],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 4, cli.stdout + cli.stderr
        text = " ".join(cli.stderr.split())
        assert f"(PID {server.pid})" in text, text  # DuckDB names the process holding the file
        assert "Another process holds this DuckDB file (a running `marketloop serve`?)" in text, text
        assert "Traceback" not in cli.stderr
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_status_route_of_an_unknown_campaign_is_404_even_with_a_worker(sim) -> None:
    api, _ = sim
    assert_error(api.get("/v1/campaigns/nope/status"), 404, "not_found")
