"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from marketloop import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the store answers and its schema is current",
    responses={503: {"description": "the store does not answer"}},
)
def readyz(request: Request) -> JSONResponse:
    from marketloop.store.migrations import LATEST_VERSION, applied_versions

    state = request.app.state.ml
    try:
        with state.store.connect() as conn:
            version = max(applied_versions(conn))
    except Exception as exc:  # noqa: BLE001 - readiness reports any store failure as not ready
        return JSONResponse(
            {"status": "unavailable", "store": state.store.dialect, "reason": type(exc).__name__}, status_code=503
        )
    body = {
        "status": "ready" if version >= LATEST_VERSION else "migrating",
        "store": state.store.dialect,
        "schema_version": version,
        "version": __version__,
    }
    return JSONResponse(body, status_code=200 if version >= LATEST_VERSION else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    description="Request rates and latency by route, outbox depth, sends by result, dispatcher lag, model ages, "
    "job runs and open alerts. Needs a key that can read (an analyst key is enough; Prometheus sends it as a bearer "
    "token), unless `metrics_public` is set.",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"description": "no or a bad API key"}},
    openapi_extra={"x-required-scope": "read"},
)
async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.concurrency import run_in_threadpool

    from marketloop.service.auth import authorize

    state = request.app.state.ml
    if not state.settings.metrics_public:
        await authorize(request, "read")
    body = await run_in_threadpool(generate_latest, state.metrics_registry)  # reads the store: off the event loop
    return Response(body, media_type=CONTENT_TYPE_LATEST)
