"""Alerts: kept in the ``alerts`` table (the dashboard's list) and POSTed to a signed webhook.

An alert is identified by its kind and subject ("drift" / "customer_features.returns"): while one is open,
raising it again only counts the occurrence and refreshes its message, so a condition that persists over
many monitor runs makes one alert (and one webhook call), not one per run. :meth:`AlertSink.clear` resolves
the open alerts of a kind whose condition no longer holds; a person resolves one by id.

The webhook is the delivery layer's :class:`~marketloop.delivery.channels.webhook.WebhookChannel`: the
same client, the same HMAC-SHA256 signature (``X-MarketLoop-Signature`` over ``"{timestamp}.{body}"``) and
an ``Idempotency-Key`` (the alert id), so a receiver verifies alerts like messages. A webhook that fails
is logged and recorded on the alert (``webhook_status``); it never stops the job that raised it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

import sqlalchemy as sa

from marketloop.clock import wall_utcnow
from marketloop.errors import ConfigError, NotFoundError

log = logging.getLogger("marketloop.alerts")

SEVERITIES = ("warning", "critical")


def _webhook(settings: Any) -> Any:
    url = getattr(settings, "alert_webhook_url", None)
    if not url:
        return None
    from pydantic import ValidationError

    from marketloop.delivery.channels.webhook import WebhookChannel, WebhookOptions

    secret = settings.alert_webhook_secret
    if secret is None:
        raise ConfigError(
            "alert_webhook_url is set but alert_webhook_secret is not",
            hint="Set MARKETLOOP_ALERT_WEBHOOK_SECRET to a shared key of at least 16 characters.",
        )
    try:
        return WebhookChannel(WebhookOptions(url=url, secret=secret, timeout=10.0))
    except ValidationError as exc:
        raise ConfigError(
            f"alert webhook: {exc.errors()[0]['msg']}",
            hint="alert_webhook_secret needs at least 16 characters.",
        ) from None


class AlertSink:
    """Raises, refreshes and clears alerts in the store and sends new ones to the webhook."""

    def __init__(self, store: Any, settings: Any, clock: Any) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.webhook = _webhook(settings)

    def raise_alert(
        self, kind: str, subject: str, message: str, *, severity: str = "warning", details: Any = None
    ) -> dict:
        from marketloop.store.schema import alerts as t

        if severity not in SEVERITIES:
            severity = "warning"
        now = self.clock.now()
        subject = subject[:255]
        details_json = json.dumps(details, default=str, sort_keys=True) if details is not None else None
        with self.store.begin() as conn:
            row = (
                conn.execute(
                    sa.select(t.c.alert_id, t.c.occurrences).where(
                        t.c.kind == kind, t.c.subject == subject, t.c.resolved_at.is_(None)
                    )
                )
                .mappings()
                .first()
            )
            if row is not None:
                conn.execute(
                    t.update()
                    .where(t.c.alert_id == row["alert_id"])
                    .values(
                        last_seen_at=now,
                        occurrences=int(row["occurrences"]) + 1,
                        message=message,
                        details_json=details_json,
                        severity=severity,
                    )
                )
                return {"alert_id": row["alert_id"], "new": False}
            alert_id = uuid.uuid4().hex
            conn.execute(
                t.insert().values(
                    alert_id=alert_id,
                    kind=kind,
                    subject=subject,
                    severity=severity,
                    message=message,
                    details_json=details_json,
                    created_at=now,
                    last_seen_at=now,
                    occurrences=1,
                )
            )
        log.warning("alert %s %s: %s", kind, subject, message)
        status = self._post(alert_id, kind, subject, severity, message, details, now)
        if status is not None:
            with self.store.begin() as conn:
                conn.execute(t.update().where(t.c.alert_id == alert_id).values(webhook_status=status))
        return {"alert_id": alert_id, "new": True, "webhook": status}

    def _post(
        self, alert_id: str, kind: str, subject: str, severity: str, message: str, details: Any, now: dt.datetime
    ) -> str | None:
        if self.webhook is None:
            return None
        from marketloop.delivery.channels.base import DeliveryError

        payload = {
            "type": "alert",
            "id": alert_id,
            "kind": kind,
            "subject": subject,
            "severity": severity,
            "message": message,
            "details": details,
            "at": now.isoformat(),
        }
        try:
            # the signature's timestamp is the wall clock: receivers check it against theirs
            self.webhook.post_json(payload, f"alert-{alert_id}", wall_utcnow())
        except DeliveryError as exc:
            log.error("alert webhook failed: %s", exc.message)
            return "failed"
        return "sent"

    def clear(self, kind: str, keep: set[str] | None = None, *, prefix: str = "") -> int:
        """Resolve the open alerts of ``kind`` (whose subject starts with ``prefix``) not in ``keep``: their
        condition no longer holds. Returns how many were resolved."""
        from marketloop.store.schema import alerts as t

        keep = keep or set()
        with self.store.begin() as conn:
            rows = conn.execute(
                sa.select(t.c.alert_id, t.c.subject).where(t.c.kind == kind, t.c.resolved_at.is_(None))
            ).all()
            gone = [a for a, s in rows if s.startswith(prefix) and s not in keep]
            if gone:
                conn.execute(t.update().where(t.c.alert_id.in_(gone)).values(resolved_at=self.clock.now()))
        return len(gone)

    def close(self) -> None:
        if self.webhook is not None:
            self.webhook.close()


def _record(row: Any) -> dict:
    r = dict(row)
    r["details"] = json.loads(r.pop("details_json")) if r.get("details_json") else None
    return r


def list_alerts(store: Any, *, open_only: bool = True, kind: str | None = None, limit: int = 100) -> list[dict]:
    """Alerts, newest first."""
    from marketloop.store.schema import alerts as t

    q = sa.select(t).order_by(t.c.last_seen_at.desc(), t.c.alert_id).limit(limit)
    if open_only:
        q = q.where(t.c.resolved_at.is_(None))
    if kind is not None:
        q = q.where(t.c.kind == kind)
    with store.connect() as conn:
        return [_record(r) for r in conn.execute(q).mappings().all()]


def resolve_alert(store: Any, alert_id: str, now: dt.datetime) -> dict:
    """Mark one alert resolved (acknowledged by a person); NotFoundError for an unknown id."""
    from marketloop.store.schema import alerts as t

    with store.begin() as conn:
        row = conn.execute(sa.select(t).where(t.c.alert_id == alert_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no alert {alert_id!r}", hint="List alerts with `marketloop alerts list`.")
        if row["resolved_at"] is None:
            conn.execute(t.update().where(t.c.alert_id == alert_id).values(resolved_at=now))
        row = conn.execute(sa.select(t).where(t.c.alert_id == alert_id)).mappings().first()
    return _record(row)
