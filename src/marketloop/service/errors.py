"""One error shape for every API failure, and the handlers that produce it.

Every error answer is ``{"error": {"code", "message", "field", "hint", "details"}}`` with the HTTP
status in the response line. ``code`` is a stable machine-readable word (tests and clients match on it);
``message`` says what was wrong, ``field`` names the offending field when there is one, ``hint`` says how
to fix it. Unexpected failures answer 500 with ``internal_error`` and no details (the server log has the
traceback, without request bodies).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from marketloop.errors import (
    ConfigError,
    DependencyError,
    InputError,
    MarketLoopError,
    NotFoundError,
    StoreError,
)

log = logging.getLogger("marketloop.service")


class ApiError(Exception):
    """An error raised by a route with its status and code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
        details: list | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.field, self.hint, self.headers, self.details = field, hint, headers, details


def error_body(
    code: str, message: str, *, field: str | None = None, hint: str | None = None, details: list | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, "hint": hint, "details": details or []}}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
    details: list | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(code, message, field=field, hint=hint, details=details), status_code=status, headers=headers
    )


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "unavailable",
}


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or (str(loc[0]) if loc else "body")


def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        where = (first.get("ctx") or {}).get("error", "")
        return error_response(
            400,
            "malformed_json",
            f"the request body is not valid JSON ({where})".replace(" ()", ""),
            hint="Send a JSON document with Content-Type: application/json.",
        )
    details = [
        {"field": _loc(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")} for e in errors
    ]
    first = details[0]
    return error_response(
        422,
        "invalid_input",
        f"{first['field']}: {first['message']}",
        field=first["field"],
        hint="Check the field against the OpenAPI document at /v1/openapi.json.",
        details=details,
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the error shape above."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            exc.status, exc.code, exc.message, field=exc.field, hint=exc.hint, headers=exc.headers, details=exc.details
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}"
            return error_response(404, code, message, hint="The API lives under /v1; see /v1/docs.")
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(MarketLoopError)
    async def _domain(request: Request, exc: MarketLoopError) -> JSONResponse:
        if isinstance(exc, InputError):
            return error_response(422, "invalid_input", exc.message, field=exc.field, hint=exc.hint)
        if isinstance(exc, NotFoundError):
            return error_response(404, "not_found", exc.message, hint=exc.hint)
        if isinstance(exc, StoreError):
            log.error("store error: %s", exc.message)
            return error_response(503, "store_unavailable", exc.message, hint=exc.hint)
        if isinstance(exc, (DependencyError, ConfigError)):
            return error_response(
                501 if isinstance(exc, DependencyError) else 500, "not_configured", exc.message, hint=exc.hint
            )
        return error_response(409, "conflict", exc.message, hint=exc.hint)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception(
            "unhandled error on %s %s",
            request.method,
            request.scope.get("route").path if request.scope.get("route") else "?",
        )
        return error_response(
            500,
            "internal_error",
            "the server failed to answer this request",
            hint="This is a bug; the server log has the details.",
        )
