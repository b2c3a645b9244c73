"""Serving at storefront scale: key roles with their own rate limits (a storefront key for recommendations),
429 with Retry-After, and `marketloop serve --workers N` on PostgreSQL / MySQL (refused on DuckDB)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.errors import ConfigError, InputError
from marketloop.service.keys import create_key
from marketloop.service.limits import RateLimiter
from marketloop.store import open_store
from tests.conftest import backend_url
from tests.delivery.conftest import free_port
from tests.service.conftest import assert_error, make_api, serve_process


def test_limiter_gives_roles_their_own_rate_and_burst() -> None:
    limiter = RateLimiter(0.001, 2, {"storefront": (0.001, 5)})
    assert [limiter.take("a", "analyst") for _ in range(3)][:2] == [0.0, 0.0] and limiter.take("a", "analyst") > 0
    assert all(limiter.take("s", "storefront") == 0.0 for _ in range(5)) and limiter.take("s", "storefront") > 0
    assert limiter.limits("storefront") == (0.001, 5) and limiter.limits("marketer") == (0.001, 2)
    # each of 4 processes enforces a quarter of every limit
    shared = RateLimiter(200, 400, {"storefront": (5000, 10000)}, share=0.25)
    assert shared.limits() == (50, 100) and shared.limits("storefront") == (1250, 2500)


def test_a_storefront_key_gets_recommendations_at_storefront_rates_and_nothing_else(tmp_path: Path) -> None:
    for api in make_api(
        tmp_path,
        api_rate_limit=0.01,
        api_rate_burst=3,
        api_role_rate_limits={"storefront": 0.01},
        api_role_rate_bursts={"storefront": 40},
    ):
        front = create_key(api.store, "shop-front", "storefront").token
        headers = {"Authorization": f"Bearer {front}"}
        codes = [api.client.get("/v1/recommendations/trending", headers=headers).status_code for _ in range(30)]
        assert 429 not in codes and 403 not in codes, codes  # no models here: 404, but never limited or refused
        assert [api.get("/v1/me", "analyst").status_code for _ in range(4)] == [200, 200, 200, 429]
        err = assert_error(api.get("/v1/me", "analyst"), 429, "rate_limited")
        assert "0.01 requests/s for the analyst role" in err["message"] and "storefront" in err["hint"]
        refused = assert_error(api.client.get("/v1/customers", headers=headers), 403, "forbidden")
        assert "storefront role may not do this" in refused["message"]
        ok = api.client.post(
            "/v1/events",
            headers=headers,
            json={
                "events": [{"event_id": "e1", "event_type": "view", "customer_id": "C1", "ts": "2026-01-01T10:00:00Z"}]
            },
        )
        assert ok.status_code in (200, 202), ok.text  # storefronts track events too
        for _ in range(15):
            last = api.client.get("/v1/recommendations/trending", headers=headers)
        assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1


def test_role_limits_naming_an_unknown_role_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown role"):
        next(make_api(tmp_path, api_role_rate_limits={"shopfront": 10.0}))


def test_several_workers_are_refused_on_duckdb(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'one.duckdb'}"
    open_store(url).close()
    result = CliRunner().invoke(app, ["serve", "--db", url, "--workers", "2", "--port", str(free_port())])
    assert isinstance(result.exception, InputError)
    assert "a DuckDB store can be opened by one process only" in result.exception.message
    assert "PostgreSQL or MySQL" in result.exception.hint


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_serve_with_two_workers_answers_from_two_processes(backend: str, tmp_path: Path) -> None:
    url = backend_url(backend, tmp_path)
    with open_store(url) as store:
        key = create_key(store, "front", "storefront").token
    server, port, _ = serve_process(
        tmp_path,
        ["--db", url, "--workers", "2", "--no-access-log"],
        {"MARKETLOOP_MODELS_DIR": str(tmp_path / "m")},
        "/readyz",
    )
    try:
        children = subprocess.run(["ps", "--ppid", str(server.pid), "-o", "pid="], capture_output=True, text=True)
        assert len(children.stdout.split()) >= 2, children.stdout  # the supervisor and its two workers
        answer = httpx.get(
            f"http://127.0.0.1:{port}/v1/recommendations/trending",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        # the storefront key is admitted (no models in this empty store: 404 saying so, not 401 / 403)
        assert answer.status_code == 404 and "no promoted recommendation models" in answer.text, answer.text
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert "with 2 worker processes" in err and "marketloop worker --db" in err
