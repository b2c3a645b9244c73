"""LeanRoute: routes of the lean shape answer exactly as FastAPI's own handler would (values, key checks,
path-parameter errors), and routes of any other shape keep FastAPI's handler."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.responses import JSONResponse, Response

from marketloop.config import load_settings
from marketloop.service.app import create_app
from marketloop.service.auth import authenticated, require
from marketloop.service.keys import Principal, create_key
from marketloop.service.lean import LeanRoute, _lean_shape
from marketloop.store import open_store

Short = Annotated[str, Path(min_length=2, max_length=5)]
Count = Annotated[int, Path(ge=1, le=9)]


def _router(prefix: str, route_class: type[APIRoute]) -> APIRouter:
    """The same declarations, under `prefix`, with `route_class`."""
    router = APIRouter(prefix=prefix, route_class=route_class)

    @router.get("/async/{name}/{count}")
    async def async_route(
        request: Request, name: Short, count: Count, who: Principal = Depends(require("read"))
    ) -> Response:
        return JSONResponse({"name": name, "count": count, "role": who.role, "path": request.url.path})

    @router.get("/sync/{name}")
    def sync_route(name: Short, who: Principal = Depends(authenticated)) -> Response:
        return JSONResponse({"name": name, "role": who.role})

    @router.get("/writes/{name}")
    async def needs_write(name: Short, _: Principal = Depends(require("write"))) -> Response:
        return JSONResponse({"name": name})

    @router.get("/query/{name}")
    async def with_query(name: Short, q: int = 1, _: Principal = Depends(require("read"))) -> Response:
        return JSONResponse({"name": name, "q": q})

    @router.get("/tasks/{name}")
    async def with_tasks(name: Short, tasks: BackgroundTasks, _: Principal = Depends(require("read"))) -> Response:
        return JSONResponse({"name": name})

    return router


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("lean")
    store = open_store(f"duckdb:///{root / 'lean.duckdb'}")
    keys = {role: create_key(store, role, role).token for role in ("analyst", "marketer", "ingest")}
    app = create_app(
        load_settings(db_url=str(store.url), session_secret_file=root / "session.key"), store=store, background=False
    )
    app.include_router(_router("/lean", LeanRoute))
    app.include_router(_router("/plain", APIRoute))
    with TestClient(app) as test_client:
        yield test_client, keys, app
    store.close()


def _routes(app, prefix: str) -> dict[str, APIRoute]:
    from marketloop.service.auth import _api_routes

    return {r.path.split("/")[2]: r for r in _api_routes(app.routes) if r.path.startswith(prefix)}


def test_only_key_check_and_path_parameter_routes_are_lean(client) -> None:
    _, _, app = client
    lean = _routes(app, "/lean/")
    assert _lean_shape(lean["async"]) == ("read", "who")
    assert _lean_shape(lean["sync"]) == ("any", "who")
    assert _lean_shape(lean["query"]) is None  # a query parameter: FastAPI's handler
    assert _lean_shape(lean["tasks"]) is None  # background tasks: FastAPI's handler


@pytest.mark.parametrize(
    "path, role",
    [
        ("async/ab/3", "analyst"),
        ("async/ab/3", None),
        ("async/ab/3", "ingest"),
        ("async/ab/3", "bad-key"),
        ("async/a/3", "analyst"),
        ("async/abcdef/3", "analyst"),
        ("async/ab/0", "analyst"),
        ("async/ab/x", "analyst"),
        ("async/a/x", "analyst"),
        ("async/a/3", None),
        ("sync/abc", "ingest"),
        ("sync/a", "marketer"),
        ("writes/abc", "analyst"),
        ("writes/abc", "marketer"),
        ("query/abc?q=2", "analyst"),
        ("query/abc?q=x", "analyst"),
        ("tasks/abc", "analyst"),
    ],
)
def test_lean_answers_as_fastapi_does(client, path, role) -> None:
    test_client, keys, _ = client
    headers = {} if role is None else {"Authorization": f"Bearer {keys.get(role, 'mlk_0_0')}"}
    lean = test_client.get(f"/lean/{path}", headers=headers)
    plain = test_client.get(f"/plain/{path}", headers=headers)
    assert lean.status_code == plain.status_code
    assert lean.json() == {k: (v.replace("/plain/", "/lean/") if k == "path" else v) for k, v in plain.json().items()}
    assert lean.headers.get("www-authenticate") == plain.headers.get("www-authenticate")


def test_an_endpoint_not_returning_a_response_is_a_programming_error(tmp_path) -> None:
    router = APIRouter(route_class=LeanRoute)

    @router.get("/bad/{name}")
    async def bad(name: Short, _: Principal = Depends(require("read"))) -> dict:
        return {"name": name}

    route = router.routes[0]
    handler = route.get_route_handler()
    assert handler.__qualname__.startswith("LeanRoute")  # the lean handler was chosen
    store = open_store(f"duckdb:///{tmp_path / 'x.duckdb'}")
    key = create_key(store, "k", "analyst").token
    app = create_app(
        load_settings(db_url=str(store.url), session_secret_file=tmp_path / "s.key"), store=store, background=False
    )
    app.include_router(router)
    with (
        TestClient(app, raise_server_exceptions=True) as test_client,
        pytest.raises(TypeError, match="must return a Response"),
    ):
        test_client.get("/bad/abc", headers={"Authorization": f"Bearer {key}"})
    store.close()
