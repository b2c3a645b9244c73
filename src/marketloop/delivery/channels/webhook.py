"""Signed webhooks (also the transport of SMS and push providers).

Each message is POSTed as JSON with an ``Idempotency-Key`` header (the send's key: a receiver drops
repeats) and an HMAC-SHA256 signature over ``"{timestamp}.{body}"`` in ``X-MarketLoop-Signature``
(``sha256=<hex>``), with the timestamp in ``X-MarketLoop-Timestamp``. Receivers check it with
:func:`verify_signature`. 2xx (and 409, "already have it") confirm delivery; 408, 425, 429, 5xx and
network errors are transient (the dispatcher retries with backoff); other 4xx are permanent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from marketloop.delivery.channels.base import DeliveryError, OutboundMessage, Receipt

SIGNATURE_HEADER = "X-MarketLoop-Signature"
TIMESTAMP_HEADER = "X-MarketLoop-Timestamp"
_TRANSIENT_STATUS = {408, 425, 429}


class WebhookOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    secret: SecretStr = Field(..., min_length=16, description="shared HMAC key, at least 16 characters")
    timeout: float = Field(10.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: dt.datetime | None = None,
    tolerance_s: float = 300.0,
) -> bool:
    """True when ``signature`` is valid for the body and the timestamp is within the tolerance."""
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    current = (now.replace(tzinfo=dt.UTC) if now is not None else dt.datetime.now(dt.UTC)).timestamp()
    if abs(current - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel:
    name: ClassVar[str] = "webhook"
    batch: ClassVar[bool] = False
    needs_address: ClassVar[bool] = False

    def __init__(self, options: WebhookOptions) -> None:
        self.options = options
        self._client = httpx.Client(timeout=options.timeout)

    def deliver(self, message: OutboundMessage, now: dt.datetime) -> Receipt:
        return self.post_json(message.as_json(), message.idempotency_key, now)

    def post_json(self, payload: dict, idempotency_key: str, now: dt.datetime) -> Receipt:
        """POST any JSON document signed the same way (messages, and the monitor's alerts)."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()
        timestamp = f"{now.replace(tzinfo=dt.UTC).timestamp():.0f}"
        headers = {
            **self.options.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.options.secret.get_secret_value(), timestamp, body),
        }
        try:
            response = self._client.post(self.options.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {self.options.url} unreachable: {exc}", transient=True) from exc
        if response.is_success or response.status_code == 409:
            return Receipt(provider_id=response.headers.get("X-Request-Id"))
        transient = response.status_code >= 500 or response.status_code in _TRANSIENT_STATUS
        raise DeliveryError(f"webhook answered {response.status_code}: {response.text[:200]}", transient=transient)

    def close(self) -> None:
        self._client.close()
