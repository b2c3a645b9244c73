from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.errors import MarketLoopError
from marketloop.store import open_store

from .conftest import make_plan, seed_customers

runner = CliRunner()


@pytest.fixture
def db(tmp_path):
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    with open_store(url) as store:
        ids = seed_customers(store, 12)
        make_plan(store, "c1", ids, approve=False)
    return url


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_approve_launch_status_pause_resume(db, tmp_path, smtp_server):
    assert json.loads(invoke("campaign", "approve", "c1", "--db", db, "--json").stdout)["status"] == "approved"
    channels = tmp_path / "ch.toml"
    channels.write_text(f'[email]\nprovider = "smtp"\nhost = "127.0.0.1"\nport = {smtp_server.port}\n')
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"quiet_start": 0, "quiet_end": 0}))
    res = invoke("campaign", "launch", "c1", "--db", db, "--no-dispatch", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["launch"]["holdout"] == 2
    assert json.loads(invoke("campaign", "pause", "c1", "--db", db, "--json").stdout)["status"] == "paused"
    assert (
        json.loads(invoke("campaign", "dispatch", "c1", "--db", db, "--channels", str(channels), "--json").stdout)[
            "stopped"
        ]
        == "paused"
    )
    invoke("campaign", "resume", "c1", "--db", db)
    res = invoke(
        "campaign", "dispatch", "c1", "--db", db, "--channels", str(channels), "--policy", str(policy), "--json"
    )
    assert json.loads(res.stdout)["sent"] == 10 and len(smtp_server.raw) == 10
    status = json.loads(invoke("campaign", "status", "c1", "--db", db, "--json").stdout)
    assert status["status"] == "completed" and status["outbox"]["sent"] == 10 and status["outbox"]["holdout"] == 2


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["launch", "c1"], "no channels configured"),
        ({"ch.json": "{not json"}, ["launch", "c1", "--channels", "ch.json"], "is not valid JSON"),
        (
            {"ch.json": '{"fax": {"provider": "smtp"}}'},
            ["launch", "c1", "--channels", "ch.json"],
            "expected keys among email",
        ),
        (
            {"ch.json": '{"email": {"provider": "pigeon"}}'},
            ["launch", "c1", "--channels", "ch.json"],
            "provider: expected one of",
        ),
        (
            {"ch.json": '{"email": {"provider": "smtp", "prot": 25}}'},
            ["launch", "c1", "--channels", "ch.json"],
            "smtp channel option prot",
        ),
        (
            {"ch.json": '{"sms": {"provider": "webhook", "url": "http://x", "secret": "short"}}'},
            ["launch", "c1", "--channels", "ch.json"],
            "webhook channel option secret",
        ),
        (
            {"p.json": '{"quiet_start": 25}'},
            ["launch", "c1", "--policy", "p.json", "--channels", "missing.json"],
            "--policy quiet_start",
        ),
        ({}, ["launch", "c1", "--channels", "missing.json"], "--channels: file 'missing.json' not found"),
        ({}, ["launch", "c1", "--sim", "nowhere"], "--sim: folder 'nowhere' does not exist"),
        (
            {"p.json": '{"quiet_begin": 2}'},
            ["launch", "c1", "--policy", "p.json", "--sim", "."],
            "--policy quiet_begin",
        ),
        ({}, ["launch", "c1", "--holdout", "0", "--no-dispatch"], "has no holdout"),
        ({}, ["launch", "nope", "--no-dispatch"], "campaign 'nope' not found"),
        ({}, ["launch", "c1", "--bandit-waves", "3"], "--bandit-waves needs --sim"),
        ({}, ["approve", "nope"], "not found"),
        ({}, ["report", "c1", "--level", "2"], "--level: expected"),
    ],
)
def test_bad_input_is_named_and_loses_nothing(db, tmp_path, monkeypatch, files, args, message):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    invoke("campaign", "approve", "c1", "--db", db)
    res = invoke("campaign", *args, "--db", db)
    assert res.exit_code != 0
    assert isinstance(res.exception, MarketLoopError) and message in res.exception.message, res.output
    with open_store(db) as store:
        assert store.scalar("select count(*) from sends where status in ('sent', 'sending')") == 0


@pytest.mark.parametrize(
    ("command", "kinds"),
    [
        (["campaign", "status"], ("campaign", "send")),
        (["campaign", "launch"], ("dispatch",)),
        (["campaign", "dispatch"], ("dispatch",)),
    ],
)
def test_help_explains_every_status_word(command, kinds):
    from marketloop.store.campaigns import status_glossary

    words = status_glossary()
    text = " ".join(runner.invoke(app, [*command, "--help"], terminal_width=400).stdout.split())
    for kind in kinds:
        for word, meaning in words[kind].items():
            assert f"{word}: {meaning}." in text, (command, word)


def test_launch_output_counts_contacted_and_holdout_apart_and_explains_deferred(db, tmp_path, smtp_server):
    invoke("campaign", "approve", "c1", "--db", db)
    channels = tmp_path / "ch.toml"
    channels.write_text(f'[email]\nprovider = "smtp"\nhost = "127.0.0.1"\nport = {smtp_server.port}\n')
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"quiet_start": 0, "quiet_end": 0}))
    res = runner.invoke(
        app,
        ["campaign", "launch", "c1", "--db", db, "--channels", str(channels), "--policy", str(policy)],
        terminal_width=300,
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "audience 12: 10 to contact (queued in the outbox) + 2 holdout (never messaged" in text
    assert "so one message can be deferred more than once and still be sent" in text
    assert "Campaign status: completed (every message is done" in text
