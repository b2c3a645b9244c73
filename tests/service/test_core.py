"""The service core: health, keys and roles, sessions, limits, the error shape and the access log."""

from __future__ import annotations

import json
import logging

import pytest
from typer.testing import CliRunner

from marketloop.errors import InputError, NotFoundError
from marketloop.service.keys import revoke_key
from tests.service.conftest import ROLES, assert_error, make_api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:httpx.*")


def test_health_and_readiness_need_no_key(api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready" and ready.json()["store"] == "duckdb"


def test_openapi_document_is_served_under_v1(api) -> None:
    doc = api.client.get("/v1/openapi.json").json()
    assert doc["info"]["title"] == "MarketLoop"
    assert "/v1/events" in doc["paths"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(doc["components"]["securitySchemes"])


@pytest.mark.parametrize(
    "headers, why",
    [
        ({}, "no key"),
        ({"Authorization": "Bearer not-a-key"}, "malformed"),
        ({"Authorization": "Bearer mlk_abcdef123456_wrongsecret"}, "unknown id"),
        ({"X-API-Key": "mlk_"}, "empty parts"),
    ],
)
def test_missing_or_invalid_key_is_401(api, headers, why) -> None:
    err = assert_error(api.client.get("/v1/me", headers=headers), 401, "unauthorized")
    assert "marketloop keys create" in err["hint"], why


def test_wrong_secret_for_a_real_key_id_is_401(api) -> None:
    token = api.keys["admin"]
    forged = token[: token.rindex("_") + 1] + "x" * 43
    assert_error(api.client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"}), 401, "unauthorized")


@pytest.mark.parametrize("role", ROLES)
def test_me_names_the_key_and_its_scopes(api, role) -> None:
    body = api.get("/v1/me", role).json()
    assert body["role"] == role and body["name"] == f"test-{role}"
    assert api.client.get("/v1/me", headers={"X-API-Key": api.keys[role]}).json() == body


def test_revoked_key_stops_working(api) -> None:
    assert api.get("/v1/me", "analyst").status_code == 200
    key_id = api.keys["analyst"].split("_")[1]
    revoke_key(api.store, key_id)
    api.client.app.state.ml.verifier.forget(key_id)
    assert_error(api.get("/v1/me", "analyst"), 401, "unauthorized")


def test_dashboard_session_cookie_logs_in_and_out(api) -> None:
    assert_error(api.client.post("/v1/session", json={"key": "mlk_nope_nope"}), 401, "unauthorized", field="key")
    login = api.client.post("/v1/session", json={"key": api.keys["marketer"]})
    assert login.status_code == 200 and login.json()["role"] == "marketer"
    cookie = login.cookies.get("ml_session")
    assert cookie and api.keys["marketer"].split("_")[2] not in cookie  # the secret never travels in the cookie
    assert api.client.get("/v1/me").json()["role"] == "marketer"
    assert api.client.delete("/v1/session").status_code == 204
    api.client.cookies.clear()
    assert_error(api.client.get("/v1/me"), 401, "unauthorized")


def test_tampered_session_cookie_is_refused(api) -> None:
    api.client.post("/v1/session", json={"key": api.keys["analyst"]})
    token = api.client.cookies.get("ml_session")
    key_id = api.keys["admin"].split("_")[1]
    api.client.cookies.clear()
    api.client.cookies.set("ml_session", key_id + token[token.index(".") :])  # claim the admin key id
    assert_error(api.client.get("/v1/me"), 401, "unauthorized")


def test_unknown_route_has_the_error_shape(api) -> None:
    assert_error(api.get("/v1/nowhere"), 404, "not_found")


def test_rate_limit_answers_429_with_retry_after(tmp_path) -> None:
    for api in make_api(tmp_path, api_rate_limit=0.01, api_rate_burst=3):
        codes = [api.get("/v1/me", "analyst").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        err = assert_error(api.get("/v1/me", "analyst"), 429, "rate_limited")
        assert "MARKETLOOP_API_RATE_LIMIT" in err["hint"]
        assert int(api.get("/v1/me", "analyst").headers["Retry-After"]) >= 1
        assert api.get("/v1/me", "marketer").status_code == 200  # buckets are per key


def test_body_over_the_limit_is_413_before_the_route_runs(tmp_path) -> None:
    for api in make_api(tmp_path, api_max_body_bytes=1000):
        big = {"events": [{"event_id": f"e{i}", "event_type": "view"} for i in range(100)]}
        err = assert_error(api.post("/v1/events", "ingest", json=big), 413, "payload_too_large")
        assert "1000 bytes" in err["message"]
        assert api.store.count("events") == 0

        def chunks():
            for _ in range(10):
                yield b" " * 200

        r = api.client.post(
            "/v1/events", headers=api.as_("ingest") | {"Content-Type": "application/json"}, content=chunks()
        )
        assert_error(r, 413, "payload_too_large")


def test_keys_cli_creates_lists_and_revokes(tmp_path) -> None:
    from marketloop.cli.main import app

    db = f"duckdb:///{tmp_path / 'k.duckdb'}"
    runner = CliRunner()
    created = runner.invoke(
        app, ["keys", "create", "shop-frontend", "--role", "ingest", "--db", db, "--create", "--json"]
    )
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert key["key"].startswith("mlk_" + key["key_id"])
    listed = json.loads(runner.invoke(app, ["keys", "list", "--db", db, "--json"]).stdout)["keys"]
    assert [(k["name"], k["role"], k["active"]) for k in listed] == [("shop-frontend", "ingest", True)]
    assert key["key"].split("_")[2] not in json.dumps(listed)
    assert runner.invoke(app, ["keys", "revoke", key["key_id"], "--db", db]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["keys", "list", "--db", db, "--json"]).stdout)["keys"]
    assert listed[0]["active"] is False
    bad = runner.invoke(app, ["keys", "create", "x", "--role", "owner", "--db", db])
    assert isinstance(bad.exception, InputError) and "role 'owner' is not one of admin, marketer" in str(bad.exception)
    missing = runner.invoke(app, ["keys", "revoke", "nope", "--db", db])
    assert isinstance(missing.exception, NotFoundError) and "no API key with id 'nope'" in str(missing.exception)


def test_access_log_names_routes_not_paths_or_secrets(api, caplog) -> None:
    caplog.set_level(logging.INFO, logger="marketloop.access")
    api.post(
        "/v1/events", "ingest", json={"events": [{"event_id": "e1", "event_type": "view", "customer_id": "alice"}]}
    )
    api.client.get("/v1/me?token=SECRET", headers=api.as_("admin"))
    lines = [r.getMessage() for r in caplog.records if r.name == "marketloop.access"]
    assert any(line.startswith("POST /v1/events 200") for line in lines), lines
    text = "\n".join(lines)
    assert "alice" not in text and "SECRET" not in text
    assert all(k.split("_")[2] not in text for k in api.keys.values())


def test_a_session_cookie_with_non_ascii_bytes_is_401_not_500(api) -> None:
    r = api.client.get("/v1/me", headers={"Cookie": b"ml_session=abc.123.\xe9t"})
    assert_error(r, 401, "unauthorized")


def _operations(api) -> list[tuple[str, str, str | None]]:
    doc = api.client.get("/v1/openapi.json").json()
    return [
        (method.upper(), path, op.get("x-required-scope"))
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    ]


def test_every_v1_operation_declares_its_scope_except_login(api) -> None:
    ops = _operations(api)
    assert len(ops) >= 30
    public = {(m, p) for m, p, scope in ops if scope is None}
    assert public == {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("POST", "/v1/session"),
        ("GET", "/unsubscribe"),
        ("POST", "/unsubscribe"),
    }


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_over_every_operation(api, role) -> None:
    """Each role gets 403 exactly on the operations whose scope it lacks, and never 401 with its key."""
    from marketloop.service.keys import ROLE_SCOPES

    for method, path, scope in _operations(api):
        if scope is None:
            continue
        url = (
            path.replace("{customer_id}", "nobody")
            .replace("{product_id}", "nothing")
            .replace("{campaign_id}", "none")
            .replace("{channel}", "email")
        )
        r = api.client.request(method, url, headers=api.as_(role), json={})
        allowed = scope == "any" or scope in ROLE_SCOPES[role]
        assert r.status_code != 401, (method, path, r.text)
        if allowed:
            assert r.status_code != 403, (method, path, role, r.text)
        else:
            assert_error(r, 403, "forbidden")


def test_authorization_header_must_be_bearer(api) -> None:
    err = assert_error(
        api.client.get("/v1/me", headers={"Authorization": f"Basic {api.keys['admin']}"}), 401, "unauthorized"
    )
    assert "Bearer" in err["message"]


def test_interactive_docs_load_nothing_from_other_sites(api, monkeypatch) -> None:
    import re

    from marketloop.service.dashboard import STATIC_DIR

    page = api.client.get("/v1/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    urls = [a or b for a, b in urls]
    assert urls and all(u.startswith("/") for u in urls), urls  # same site only: the docs work offline
    if (STATIC_DIR / "vendor" / "swagger-ui-bundle.js").exists():
        assert "/static/vendor/swagger-ui-bundle.js" in urls
        assert api.client.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
    else:
        assert "/v1/openapi.json" in urls and "make install" in page.text
