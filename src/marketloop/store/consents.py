"""Consent per channel and the suppression list, as the API and the unsubscribe link change them.

Rows are written the way ingestion writes them (one row per customer and channel, status ``granted``
or ``revoked``, ``updated_at`` in naive UTC, ``source`` naming who changed it), so the send-time checks
of ``delivery/checks.py`` see every change at once. Writers take an open connection so that the
caller can audit the change in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.store import schema

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

CONSENT_STATUSES = ("granted", "revoked")
#: The suppression reason an unsubscribe writes; only this one is lifted when consent is granted again
#: (bounces, complaints and legal holds stay).
UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True)
class ChannelConsent:
    """Where one customer stands on one channel. ``sendable``: granted and not suppressed."""

    channel: str
    status: str  # granted, revoked or unknown (no row)
    updated_at: dt.datetime | None
    source: str | None
    suppressed: bool
    suppression_reason: str | None

    @property
    def sendable(self) -> bool:
        return self.status == "granted" and not self.suppressed


def _utcnow() -> dt.datetime:
    return utcnow()


def customer_known(store, customer_id: str) -> bool:  # noqa: ANN001
    """True when the customer has a profile row or any consent row (consents may arrive first)."""
    c, k = schema.customers.c, schema.consents.c
    with store.connect() as conn:
        if conn.execute(sa.select(c.customer_id).where(c.customer_id == customer_id).limit(1)).first():
            return True
        return conn.execute(sa.select(k.customer_id).where(k.customer_id == customer_id).limit(1)).first() is not None


def consent_state(store, customer_id: str) -> list[ChannelConsent]:  # noqa: ANN001
    """One entry per channel of ``schema.CHANNELS`` (in that order); a suppression for ``*`` covers all."""
    k, sp = schema.consents.c, schema.suppressions.c
    with store.connect() as conn:
        consents = {
            r.channel: r
            for r in conn.execute(
                sa.select(k.channel, k.status, k.updated_at, k.source).where(k.customer_id == customer_id)
            )
        }
        suppressions = {
            r.channel: r.reason
            for r in conn.execute(sa.select(sp.channel, sp.reason).where(sp.customer_id == customer_id))
        }
    out = []
    for channel in schema.CHANNELS:
        row = consents.get(channel)
        reason = suppressions.get(channel, suppressions.get("*"))
        out.append(
            ChannelConsent(
                channel,
                row.status if row else "unknown",
                row.updated_at if row else None,
                row.source if row else None,
                reason is not None,
                reason,
            )
        )
    return out


def set_consent(
    conn: Connection,
    customer_id: str,
    channel: str,
    status: str,
    *,
    source: str,
    now: dt.datetime | None = None,
) -> tuple[str | None, bool]:
    """Write the customer's consent on ``channel``; return (previous status or None, whether an
    ``unsubscribed`` suppression was lifted). Granting again lifts an earlier unsubscribe on that
    channel, since the customer has opted back in; other suppressions stay."""
    if status not in CONSENT_STATUSES:
        raise ValueError(f"status must be one of {CONSENT_STATUSES}, got {status!r}")
    k, sp = schema.consents, schema.suppressions
    now = now or _utcnow()
    where = sa.and_(k.c.customer_id == customer_id, k.c.channel == channel)
    previous = conn.execute(sa.select(k.c.status).where(where)).scalar()
    conn.execute(k.delete().where(where))
    conn.execute(
        k.insert().values(customer_id=customer_id, channel=channel, status=status, updated_at=now, source=source[:255])
    )
    lifted = False
    if status == "granted":
        lifted = bool(
            conn.execute(
                sp.delete().where(sp.c.customer_id == customer_id, sp.c.channel == channel, sp.c.reason == UNSUBSCRIBED)
            ).rowcount
        )
    return previous, lifted


def unsubscribe(conn, customer_id: str, channel: str, *, source: str, now: dt.datetime | None = None) -> bool:  # noqa: ANN001
    """Revoke the consent and suppress the channel; True when anything changed (a repeat is a no-op)."""
    k, sp = schema.consents, schema.suppressions
    now = now or _utcnow()
    status = conn.execute(sa.select(k.c.status).where(k.c.customer_id == customer_id, k.c.channel == channel)).scalar()
    suppressed = (
        conn.execute(sa.select(sp.c.reason).where(sp.c.customer_id == customer_id, sp.c.channel == channel)).first()
        is not None
    )
    if status != "revoked":
        set_consent(conn, customer_id, channel, "revoked", source=source, now=now)
    if not suppressed:
        conn.execute(sp.insert().values(customer_id=customer_id, channel=channel, reason=UNSUBSCRIBED, created_at=now))
    return status != "revoked" or not suppressed
