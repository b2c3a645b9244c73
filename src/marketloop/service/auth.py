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

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from marketloop.service.errors import ApiError
from marketloop.service.keys import Principal, parse_token

SESSION_COOKIE = "ml_session"
SESSION_SECONDS = 12 * 3600

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer mlk_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key: `X-API-Key: mlk_...`")


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


def authenticate(request: Request, bearer: HTTPAuthorizationCredentials | None, header: str | None) -> Principal:
    state = request.app.state.ml
    token = bearer.credentials if bearer is not None else header
    principal: Principal | None = None
    if token:
        principal = state.verifier.verify(token.strip())
        if principal is None:
            raise ApiError(401, "unauthorized", "the API key is not valid (unknown, malformed or revoked)",
                           hint="Create a key with `marketloop keys create NAME --role ROLE`.",
                           headers={"WWW-Authenticate": "Bearer"})
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        key_id = session_key_id(state.session_secret, cookie) if cookie else None
        principal = state.verifier.principal(key_id) if key_id else None
        if principal is None:
            raise ApiError(401, "unauthorized", "an API key is required",
                           hint="Send `Authorization: Bearer <key>` or `X-API-Key: <key>`; "
                                "create one with `marketloop keys create NAME --role ROLE`.",
                           headers={"WWW-Authenticate": "Bearer"})
    wait = state.limiter.take(principal.key_id)
    if wait > 0:
        raise ApiError(429, "rate_limited", f"key {principal.key_id} is over its rate limit",
                       hint="Slow down, or raise MARKETLOOP_API_RATE_LIMIT.",
                       headers={"Retry-After": state.limiter.retry_after(wait)})
    request.state.principal = principal
    return principal


def _claimed_key_id(request: Request, bearer: HTTPAuthorizationCredentials | None, header: str | None) -> str | None:
    """The key id the credentials name, before any check against the store (None: no usable credentials)."""
    token = bearer.credentials if bearer is not None else header
    if token:
        parsed = parse_token(token.strip())
        return parsed[0] if parsed else None
    cookie = request.cookies.get(SESSION_COOKIE)
    return session_key_id(request.app.state.ml.session_secret, cookie) if cookie else None


async def _authenticate(request: Request, bearer: HTTPAuthorizationCredentials | None, header: str | None) -> Principal:
    """:func:`authenticate` on the event loop when it needs no store read (the key's row is cached, or the
    credentials are unusable), else in the thread pool: a busy route does not pay a thread hop per request,
    and the loop never waits on the store."""
    key_id = _claimed_key_id(request, bearer, header)
    if key_id is None or request.app.state.ml.verifier.cached(key_id):
        return authenticate(request, bearer, header)
    return await run_in_threadpool(authenticate, request, bearer, header)


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers whose role grants `scope` (read, write, ingest or admin)."""

    async def dependency(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
                         header: str | None = Depends(_header)) -> Principal:
        principal = await _authenticate(request, bearer, header)
        if scope not in principal.scopes:
            raise ApiError(403, "forbidden", f"the {principal.role} role may not do this (needs {scope!r})",
                           hint="Use a key whose role allows it; roles: admin, marketer, analyst, ingest.")
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


async def authenticated(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
                        header: str | None = Depends(_header)) -> Principal:
    """A dependency admitting any valid key, whatever its role."""
    return await _authenticate(request, bearer, header)
