"""Build the FastAPI application for a store.

``create_app(settings)`` opens the store (running migrations), prepares the key verifier, limits and
caches, and mounts every router of ``routes.ROUTERS`` plus the dashboard. The OpenAPI document is served
at ``/v1/openapi.json`` with interactive docs at ``/v1/docs``.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI

from marketloop import __version__
from marketloop.config import Settings, load_settings
from marketloop.service import errors
from marketloop.service.keys import KeyVerifier
from marketloop.service.limits import BodyLimit, RateLimiter
from marketloop.service.state import ServiceState

access_log = logging.getLogger("marketloop.access")

DESCRIPTION = """\
MarketLoop's HTTP API. Every route except `/healthz`, `/readyz` and the signed unsubscribe link needs an
API key (`Authorization: Bearer mlk_...` or `X-API-Key: mlk_...`), created with `marketloop keys create`.
Roles: **admin** (everything), **marketer** (read and act: copy, campaigns, consents), **analyst**
(read only), **ingest** (event tracking only).

Errors always have the shape `{"error": {"code", "message", "field", "hint", "details"}}`.
"""


class AccessLog:
    """Counts and times every request for ``/metrics`` (``service/metrics.py``) and, when the access log is
    on, logs one line per request: method, the route's template (never the raw path, which may hold ids or
    tokens), status, milliseconds and the key id. Bodies, query strings and headers are never logged."""

    def __init__(self, app, metrics=None) -> None:  # noqa: ANN001
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def capture(message) -> None:  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            path = getattr(route, "path", None) or (
                "<static>" if scope["path"].startswith("/static") else "<unmatched>"
            )
            if self.metrics is not None:
                self.metrics.observe(scope["method"], path, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                principal = (
                    getattr(scope.get("state", {}).get("principal"), "key_id", "-")
                    if isinstance(scope.get("state"), dict)
                    else "-"
                )
                access_log.info("%s %s %s %.1fms key=%s", scope["method"], path, status, seconds * 1000, principal)


def _document_security(app: FastAPI) -> None:
    """Generate the OpenAPI document once, with the key schemes and each operation's scope."""
    from marketloop.service.auth import security_openapi

    generate = app.openapi

    def openapi() -> dict:
        if not getattr(app.state, "openapi_secured", False):
            security_openapi(app, generate())
            app.state.openapi_secured = True
        return app.openapi_schema

    app.openapi = openapi


def _interactive_docs(app: FastAPI) -> None:
    """``/v1/docs``: Swagger UI from the package's static files (installed from npm by `make install`), so the
    docs work offline; FastAPI's default page loads Swagger UI from a CDN."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    from marketloop.service.dashboard import STATIC_DIR

    @app.get("/v1/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if not (STATIC_DIR / "vendor" / "swagger-ui-bundle.js").exists():
            return HTMLResponse(
                "<!doctype html><title>MarketLoop API</title><p>The interactive docs need Swagger UI, which "
                "<code>make install</code> installs with npm. The API is described by "
                '<a href="/v1/openapi.json">/v1/openapi.json</a>.</p>'
            )
        return get_swagger_ui_html(
            openapi_url="/v1/openapi.json",
            title="MarketLoop API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/img/favicon.svg",
        )


def build_state(settings: Settings, store=None) -> ServiceState:  # noqa: ANN001
    from marketloop.errors import ConfigError
    from marketloop.store import open_store
    from marketloop.store.schema import API_ROLES

    unknown = sorted((set(settings.api_role_rate_limits) | set(settings.api_role_rate_bursts)) - set(API_ROLES))
    if unknown:
        raise ConfigError(
            f"api_role_rate_limits / api_role_rate_bursts name unknown role(s): {', '.join(unknown)}",
            hint=f"Roles are {', '.join(API_ROLES)}, e.g. MARKETLOOP_API_ROLE_RATE_LIMITS='{{\"storefront\": 5000}}'.",
        )

    store = store if store is not None else open_store(settings.db_url)
    return ServiceState(
        settings=settings,
        store=store,
        verifier=KeyVerifier(store),
        limiter=RateLimiter(
            settings.api_rate_limit,
            settings.api_rate_burst,
            {
                role: (rate, settings.api_role_rate_bursts.get(role, settings.api_rate_burst))
                for role, rate in settings.api_role_rate_limits.items()
            },
            share=1.0 / max(1, settings.serve_workers),
        ),
        session_secret=settings.session_key(),
        write_slots=threading.BoundedSemaphore(settings.api_max_inflight_writes),
    )


def create_app(settings: Settings | None = None, *, store=None, background: bool = True) -> FastAPI:  # noqa: ANN001
    """The application. `store` lets tests share an open store; `background` runs the dispatcher of
    launched campaigns (``service/worker.py``) in a thread of this process, whatever the store (with
    PostgreSQL / MySQL, ``background=False`` leaves it to `marketloop worker` processes). The worker's
    settings (channels, simulator, send policy) are checked here, so a bad file fails before serving."""
    from marketloop.service.routes import ROUTERS
    from marketloop.service.worker import Worker, start_background_worker

    settings = settings or load_settings()
    state = build_state(settings, store)
    if background:
        try:
            state.worker = Worker(state.store, settings)
        except Exception:
            if store is None:
                state.store.close()
            raise

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        worker = None
        if state.worker is not None and state.worker.active:
            worker = start_background_worker(state.worker)
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if store is None:
                state.store.close()

    app = FastAPI(
        title="MarketLoop",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ml = state
    errors.install(app)
    _document_security(app)
    _interactive_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    from marketloop.service.dashboard import mount as mount_dashboard

    mount_dashboard(app)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    from marketloop.service.metrics import make_registry

    state.metrics_registry, request_metrics = make_registry(state)
    app.add_middleware(AccessLog, metrics=request_metrics)
    return app


def configure_access_log(enabled: bool) -> None:
    """One line per request on stderr from ``marketloop.access`` (route, status, ms, key id), or none."""
    import sys

    access = logging.getLogger("marketloop.access")
    access.setLevel(logging.INFO if enabled else logging.WARNING)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if enabled and not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access.addHandler(handler)
        access.propagate = False


def serve_worker_app() -> FastAPI:
    """The app of one of `marketloop serve --workers N`'s processes (a uvicorn factory): settings from the
    environment the command set (store URL, number of workers), no dispatcher (that is `marketloop worker`)."""
    import os

    configure_access_log(os.environ.get("MARKETLOOP_SERVE_ACCESS_LOG", "1") == "1")
    return create_app(load_settings(), background=False)
