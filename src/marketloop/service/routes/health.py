"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

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
