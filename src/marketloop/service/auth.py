"""Authentication and authorisation for the API and the dashboard.

A caller presents its key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; the dashboard,
after logging in with a key, holds a signed session cookie naming the key id (never the secret), checked
against the store like a key so that revoking the key ends the session. Each route declares the scope it
needs with :func:`require`; the role of the key grants scopes (``keys.ROLE_SCOPES``). Missing or invalid
credentials answer 401, a valid key outside its role 403, a key over its rate 429.

Cookie-authenticated writes are protected against cross-site requests by ``SameSite=Strict`` and by the
API accepting only JSON bodies (a cross-site form cannot send ``application/json`` without a preflight).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from marketloop.service.errors import ApiError
from marketloop.service.keys import Principal, parse_token

SESSION_COOKIE = "ml_session"
SESSION_SECONDS = 12 * 3600


def _sign(key: bytes, payload: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (compare_digest refuses such str)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def session_token(secret: bytes, key_id: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_SECONDS)
    payload = f"{key_id}.{expires}"
    return f"{payload}.{_sign(secret, 'session:' + payload)}"


def session_key_id(secret: bytes, token: str, now: float | None = None) -> str | None:
    """The key id in a valid, unexpired session token, else None."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not _same(parts[2], _sign(secret, "session:" + payload)):
        return None
    if int(parts[1]) < (now or time.time()):
        return None
    return parts[0]


def sign_value(secret: bytes, purpose: str, value: str) -> str:
    """A signature binding `value` to `purpose` (e.g. unsubscribe links)."""
    return _sign(secret, f"{purpose}:{value}")


def check_signature(secret: bytes, purpose: str, value: str, signature: str) -> bool:
    return _same(signature, sign_value(secret, purpose, value))


def _token(request: Request) -> str | None:
    """The key the request presents: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    value = request.headers.get("authorization")
    if value:
        scheme, _, credentials = value.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        raise ApiError(
            401,
            "unauthorized",
            "the Authorization header must be `Bearer <key>`",
            hint="Send `Authorization: Bearer mlk_...` or `X-API-Key: mlk_...`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    value = request.headers.get("x-api-key")
    return value.strip() if value and value.strip() else None


def authenticate(request: Request) -> Principal:
    state = request.app.state.ml
    token = _token(request)
    principal: Principal | None = None
    if token:
        principal = state.verifier.verify(token)
        if principal is None:
            raise ApiError(
                401,
                "unauthorized",
                "the API key is not valid (unknown, malformed or revoked)",
                hint="Create a key with `marketloop keys create NAME --role ROLE`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        key_id = session_key_id(state.session_secret, cookie) if cookie else None
        principal = state.verifier.principal(key_id) if key_id else None
        if principal is None:
            raise ApiError(
                401,
                "unauthorized",
                "an API key is required",
                hint="Send `Authorization: Bearer <key>` or `X-API-Key: <key>`; "
                "create one with `marketloop keys create NAME --role ROLE`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
    wait = state.limiter.take(principal.key_id, principal.role)
    if wait > 0:
        rate, _ = state.limiter.limits(principal.role)
        raise ApiError(
            429,
            "rate_limited",
            f"key {principal.key_id} is over its rate limit ({rate:g} requests/s for the {principal.role} role)",
            hint="Slow down (retry after the Retry-After seconds), or raise MARKETLOOP_API_RATE_LIMIT "
            "(MARKETLOOP_API_ROLE_RATE_LIMITS for a role; a storefront key has storefront rates).",
            headers={"Retry-After": state.limiter.retry_after(wait)},
        )
    request.state.principal = principal
    return principal


def _claimed_key_id(request: Request) -> str | None:
    """The key id the credentials name, before any check against the store (None: no usable credentials)."""
    try:
        token = _token(request)
    except ApiError:
        return None
    if token:
        parsed = parse_token(token)
        return parsed[0] if parsed else None
    cookie = request.cookies.get(SESSION_COOKIE)
    return session_key_id(request.app.state.ml.session_secret, cookie) if cookie else None


async def _authenticate(request: Request) -> Principal:
    """:func:`authenticate` on the event loop when it needs no store read (the key's row is cached, or the
    credentials are unusable), else in the thread pool: a busy route does not pay a thread hop per request,
    and the loop never waits on the store."""
    key_id = _claimed_key_id(request)
    if key_id is None or request.app.state.ml.verifier.cached(key_id):
        return authenticate(request)
    return await run_in_threadpool(authenticate, request)


# The dependencies take only the request and read the headers themselves: FastAPI's security classes
# as sub-dependencies cost about 40 microseconds per request in dependency solving, a sixth of a
# recommendation request. The OpenAPI document still declares both schemes and, per operation, the
# security requirement and the scope (``security_openapi`` below).
SCOPE_ATTRIBUTE = "__marketloop_scope__"


async def authorize(request: Request, scope: str) -> Principal:
    """The caller, when its key is valid, under its rate and its role grants `scope` ("any": any role)."""
    principal = await _authenticate(request)
    if scope != "any" and scope not in principal.scopes:
        raise ApiError(
            403,
            "forbidden",
            f"the {principal.role} role may not do this (needs {scope!r})",
            hint="Use a key whose role allows it; roles: admin, marketer, analyst, ingest, storefront.",
        )
    return principal


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers whose role grants `scope` (read, write, ingest or admin)."""

    async def dependency(request: Request) -> Principal:
        return await authorize(request, scope)

    dependency.__name__ = f"require_{scope}"
    setattr(dependency, SCOPE_ATTRIBUTE, scope)
    return dependency


async def authenticated(request: Request) -> Principal:
    """A dependency admitting any valid key, whatever its role."""
    return await authorize(request, "any")


setattr(authenticated, SCOPE_ATTRIBUTE, "any")

SECURITY_SCHEMES = {
    "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer mlk_...`"},
    "APIKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key: `X-API-Key: mlk_...`",
    },
}


def _scope_of(dependant) -> str | None:  # noqa: ANN001 - fastapi Dependant
    for dep in dependant.dependencies:
        scope = getattr(dep.call, SCOPE_ATTRIBUTE, None) or _scope_of(dep)
        if scope:
            return scope
    return None


def _api_routes(routes):  # noqa: ANN001, ANN202
    """Every route with a dependant, looking inside included routers (newer FastAPI keeps them wrapped)."""
    for route in routes:
        if getattr(route, "dependant", None) is not None:
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


def security_openapi(app, schema: dict) -> dict:  # noqa: ANN001 - FastAPI
    """Add the security schemes, and to every operation behind a key its requirement and scope (routers are
    included without an extra prefix, so a route's own path is its path in the document)."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for route in _api_routes(app.routes):
        dependant = getattr(route, "dependant", None)
        scope = _scope_of(dependant) if dependant is not None else None
        if scope is None or route.path not in schema.get("paths", {}):
            continue
        for method in route.methods or ():
            operation = schema["paths"][route.path].get(method.lower())
            if operation is None:
                continue
            operation["security"] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
            operation["x-required-scope"] = scope
            if scope != "any":
                operation["description"] = (operation.get("description") or "") + f"\n\nNeeds the `{scope}` scope."
            operation.setdefault("responses", {}).update(
                {
                    "401": {"description": "no valid API key"},
                    "403": {"description": "the key's role does not allow it"},
                    "429": {"description": "the key is over its rate limit"},
                }
            )
    return schema
