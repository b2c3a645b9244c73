"""Request-size and rate limits.

``BodyLimit`` is a pure ASGI middleware: it refuses a declared ``Content-Length`` above the limit before
reading anything, and stops a chunked body as soon as it passes the limit, answering 413 either way.
``RateLimiter`` is a token bucket per API key (sustained rate plus burst), with its own rate and burst for
some roles (a storefront key asks for recommendations at page-view rates), answering 429 with
``Retry-After``. Both are small enough that a library would add more than it saves; slowapi and similar
wrap the same bucket in decorators and a storage layer we do not need in one process.
"""

from __future__ import annotations

import json
import math
import threading
import time

from marketloop.service.errors import error_body


class BodyLimit:
    def __init__(self, app, max_bytes: int) -> None:  # noqa: ANN001
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send, size: str) -> None:  # noqa: ANN001
        body = json.dumps(
            error_body(
                "payload_too_large",
                f"the request body is {size}, over the limit of {self.max_bytes} bytes",
                hint="Send fewer items per request (tracking: split the batch), or raise MARKETLOOP_API_MAX_BODY_BYTES.",
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunked = False
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(send, f"{declared} bytes")
                    return
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked:  # the server reads exactly the declared length (or no body at all): nothing to count
            await self.app(scope, receive, send)
            return
        # A body without a declared length is read here, up to the limit, and replayed to the app: the app's
        # own body parser would turn an exception raised mid-stream into a generic 400.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                await self._refuse(send, f"more than {self.max_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():  # noqa: ANN202
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RateLimiter:
    """Token bucket per key: ``rate`` tokens a second up to ``burst``; keys of a role in ``roles`` get that
    role's ``(rate, burst)`` instead. ``share`` scales every rate and burst: each of N server processes keeps
    its own buckets, so each enforces 1/N of the limit (clients spread over the processes see the whole)."""

    def __init__(
        self, rate: float, burst: int, roles: dict[str, tuple[float, int]] | None = None, share: float = 1.0
    ) -> None:
        self.rate = rate * share
        self.burst = max(1, int(burst * share))
        self.roles = {role: (r * share, max(1, int(b * share))) for role, (r, b) in (roles or {}).items()}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def limits(self, role: str | None = None) -> tuple[float, int]:
        """The (rate, burst) that applies to keys of ``role``."""
        return self.roles.get(role, (self.rate, self.burst)) if role is not None else (self.rate, self.burst)

    def take(self, key: str, role: str | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait before retrying."""
        rate, burst = self.limits(role)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
