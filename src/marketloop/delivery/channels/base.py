"""The channel protocol: what every delivery backend (SMTP, webhook, simulator, third-party) implements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from marketloop.errors import MarketLoopError


class DeliveryError(MarketLoopError):
    """A delivery attempt failed. ``transient`` failures are retried with backoff; others are dead-lettered."""

    def __init__(self, message: str, *, transient: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.transient = transient


@dataclass(frozen=True)
class OutboundMessage:
    """One personalised message, as the dispatcher hands it to a channel."""

    send_id: str
    idempotency_key: str
    campaign_id: str
    customer_id: str
    channel: str
    variant: str | None
    to: str | None
    subject: str
    body: str
    discount: float = 0.0
    offer_code: str | None = None
    product_ids: tuple[str, ...] = ()
    window_days: int = 14
    #: signed one-click unsubscribe link for this customer and channel (e-mail puts it in List-Unsubscribe)
    unsubscribe_url: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.send_id,
            "idempotency_key": self.idempotency_key,
            "campaign_id": self.campaign_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "variant": self.variant,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "discount": self.discount,
            "offer_code": self.offer_code,
            "product_ids": list(self.product_ids),
        }


@dataclass
class Receipt:
    """A confirmed delivery. Channels that observe outcomes (the simulator) report them here, and the
    dispatcher stores them in the same transaction that marks the send as sent."""

    provider_id: str | None = None
    #: (kind, ts, value) rows for send_outcomes: delivered, open, click, conversion, unsubscribe, bounce
    outcomes: list[tuple[str, dt.datetime, float | None]] = field(default_factory=list)
    #: orders the channel observed (simulator only): rows for the orders and order_lines tables
    orders: list[dict[str, Any]] = field(default_factory=list)
    order_lines: list[dict[str, Any]] = field(default_factory=list)


@runtime_checkable
class Channel(Protocol):
    """A delivery backend. ``deliver`` raises :class:`DeliveryError` on failure.

    Capabilities are declared flags: ``batch`` channels implement ``deliver_batch(messages, now)``
    returning one ``Receipt`` or ``DeliveryError`` per message, and ``needs_address`` channels skip
    customers without an address for their channel.
    """

    name: ClassVar[str]
    batch: ClassVar[bool]
    needs_address: ClassVar[bool]

    def deliver(self, message: OutboundMessage, now: dt.datetime) -> Receipt: ...

    def close(self) -> None: ...
