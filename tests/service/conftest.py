"""Fixtures for the HTTP service: an app on a fresh DuckDB store with one key per role, driven through
FastAPI's TestClient (real ASGI app, real store; no server socket needed for route tests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from marketloop.config import load_settings
from marketloop.service.app import create_app
from marketloop.service.keys import create_key
from marketloop.store import open_store

ROLES = ("admin", "marketer", "analyst", "ingest")


@dataclass
class Api:
    """A client plus one key per role; ``as_(role)`` gives headers for that role."""

    client: TestClient
    store: object
    keys: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def get(self, path: str, role: str = "admin", **kw):
        return self.client.get(path, headers=self.as_(role) | kw.pop("headers", {}), **kw)

    def post(self, path: str, role: str = "admin", **kw):
        return self.client.post(path, headers=self.as_(role) | kw.pop("headers", {}), **kw)

    def put(self, path: str, role: str = "admin", **kw):
        return self.client.put(path, headers=self.as_(role) | kw.pop("headers", {}), **kw)

    def delete(self, path: str, role: str = "admin", **kw):
        return self.client.delete(path, headers=self.as_(role) | kw.pop("headers", {}), **kw)


def make_api(tmp_path: Path, store=None, **settings) -> Iterator[Api]:
    own = store is None
    url = f"duckdb:///{tmp_path / 'service.duckdb'}"
    store = store or open_store(url)
    conf = load_settings(
        db_url=str(store.url) if not own else url, session_secret_file=tmp_path / "session.key", **settings
    )
    keys = {role: create_key(store, f"test-{role}", role).token for role in ROLES}
    app = create_app(conf, store=store, background=False)
    with TestClient(app) as client:
        yield Api(client, store, keys)
    if own:
        store.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(tmp_path)


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    """The response is an error of the documented shape with this status, code (and field)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "field", "hint", "details"}, err
    assert err["code"] == code, err
    assert err["message"], err
    if field is not None:
        assert err["field"] == field, err
    return err


def serve_process(tmp_path: Path, args: list[str], env: dict[str, str] | None = None, ready: str = "/healthz"):
    """`marketloop serve ARGS --port P` as its own process (sources on PYTHONPATH, its own session key), once
    it answers ``ready``; returns (process, port, environment). The caller terminates it."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    import marketloop
    from tests.delivery.conftest import free_port

    env = {
        **os.environ,
        "PYTHONPATH": str(Path(marketloop.__file__).resolve().parents[1]),
        "MARKETLOOP_SESSION_SECRET_FILE": str(tmp_path / "session.key"),
        **(env or {}),
    }
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "marketloop", "serve", *args, "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while True:
        if server.poll() is not None:
            raise AssertionError(f"the server exited: {server.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            server.terminate()
            raise AssertionError(f"the server did not answer {ready} within 90 s")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code == 200:
                return server, port, env
        except httpx.TransportError:
            pass
        time.sleep(0.1)
