"""The dispatcher: delivers queued sends exactly once, as far as the receiver can tell.

Protocol, per batch of due sends (status ``queued``, or ``sending`` left by a crashed dispatcher):

1. run the send-time checks; commit ``skipped`` (with the reason) and deferrals (``next_attempt_at``);
2. commit the deliverable rows as ``sending`` (attempts + 1);
3. deliver each one; on success commit ``sent`` with the channel's outcomes **in one transaction**
   per message; on a transient failure commit ``queued`` with an exponential backoff, or ``dead``
   (dead letter) once ``max_attempts`` is reached; on a permanent failure commit ``dead``.

A row is marked ``sent`` only after its channel confirmed it, and never offered again after that. A
dispatcher killed at any point leaves at most the one message it was delivering unconfirmed
(``sending``); the restarted dispatcher delivers it again with the same idempotency key (the
e-mail's Message-ID, the webhook's ``Idempotency-Key`` header), which is how the receiving side
recognises the repeat. Batch channels that run in-process (the simulator) deliver and confirm in the
same transaction, so for them a crash cannot leave anything half done.

One dispatcher per campaign at a time is enforced by a lock with a heartbeat (:mod:`.lock`); after a
crash, restart with ``takeover=True`` (CLI ``--takeover``) or wait for the lease to lapse.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from marketloop.clock import Clock, SimClock, SystemClock
from marketloop.delivery import lock
from marketloop.delivery.channels.base import DeliveryError, OutboundMessage, Receipt
from marketloop.delivery.channels.registry import ChannelRouter
from marketloop.delivery.checks import SendPolicy, check_batch
from marketloop.errors import ConflictError
from marketloop.store import schema
from marketloop.store.bulk import insert_rows
from marketloop.store.campaigns import load_status, set_status

if TYPE_CHECKING:
    from marketloop.store.engine import Store

log = logging.getLogger(__name__)

__all__ = ["Dispatcher", "DispatchResult", "SimClock", "SystemClock"]


@dataclass
class DispatchResult:
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    retried: int = 0
    dead: int = 0
    stopped: str = "done"
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("sent", "skipped", "deferred", "retried", "dead", "stopped", "reasons")}


class Dispatcher:
    """Delivers one campaign's due sends; holds the campaign's dispatch lock while it runs
    (``lease_s`` without a heartbeat and the lock lapses; ``takeover`` takes it from a dead holder)."""

    def __init__(
        self,
        store: Store,
        router: ChannelRouter,
        *,
        policy: SendPolicy | None = None,
        clock: Clock | None = None,
        batch_size: int = 200,
        lease_s: float = 120.0,
        takeover: bool = False,
        unsubscribe_link: Callable[[str, str], str] | None = None,
    ) -> None:
        self.store = store
        self.router = router
        self.policy = policy or SendPolicy()
        self.clock = clock or SystemClock()
        self.batch_size = batch_size
        self.lease_s = lease_s
        self.takeover = takeover
        self.unsubscribe_link = unsubscribe_link  # (customer_id, channel) -> signed link, see delivery/unsubscribe.py
        self.owner = lock.new_owner()

    # ---------------------------------------------------------------------------------- reading
    def _due(self, campaign_id: str, now: dt.datetime) -> pd.DataFrame:
        s, c = schema.sends.c, schema.customers.c
        query = (
            sa.select(
                s.send_id,
                s.idempotency_key,
                s.campaign_id,
                s.customer_id,
                s.channel,
                s.variant,
                s.attempts,
                s.payload_json,
                c.time_zone,
                c.email_hash,
                c.phone_hash,
            )
            .select_from(schema.sends.outerjoin(schema.customers, c.customer_id == s.customer_id))
            .where(
                s.campaign_id == campaign_id,
                s.status.in_(("queued", "sending")),
                sa.or_(s.next_attempt_at.is_(None), s.next_attempt_at <= now),
            )
            .order_by(s.send_id)
            .limit(self.batch_size)
        )
        return self.store.read_sql(query)

    def _next_due(self, campaign_id: str) -> dt.datetime | None:
        s = schema.sends.c
        value = self.store.scalar(
            sa.select(sa.func.min(s.next_attempt_at)).where(
                s.campaign_id == campaign_id, s.status.in_(("queued", "sending"))
            )
        )
        return pd.Timestamp(value).to_pydatetime() if value is not None else None

    def _waiting(self, campaign_id: str) -> bool:
        s = schema.sends.c
        return bool(
            self.store.scalar(
                sa.select(sa.func.count())
                .select_from(schema.sends)
                .where(s.campaign_id == campaign_id, s.status == "waiting")
            )
        )

    def _message(self, row) -> OutboundMessage:  # noqa: ANN001
        payload = json.loads(row.payload_json)
        to = {"email": row.email_hash, "sms": row.phone_hash}.get(row.channel, row.customer_id)
        return OutboundMessage(
            send_id=row.send_id,
            idempotency_key=row.idempotency_key,
            campaign_id=row.campaign_id,
            customer_id=row.customer_id,
            channel=row.channel,
            variant=row.variant,
            to=to if isinstance(to, str) else None,
            subject=payload["subject"],
            body=payload["body"],
            discount=float(payload.get("discount") or 0.0),
            offer_code=payload.get("offer_code"),
            product_ids=tuple(payload.get("product_ids") or ()),
            window_days=int(payload.get("window_days") or 14),
            unsubscribe_url=self.unsubscribe_link(row.customer_id, row.channel) if self.unsubscribe_link else None,
        )

    # ---------------------------------------------------------------------------------- writing
    def _update(self, conn, send_id: str, **values) -> None:  # noqa: ANN001, ANN003
        conn.execute(schema.sends.update().where(schema.sends.c.send_id == send_id).values(**values))

    def _set_many(self, conn, send_ids: list[str], **values) -> None:  # noqa: ANN001, ANN003
        for i in range(0, len(send_ids), 500):
            conn.execute(
                schema.sends.update().where(schema.sends.c.send_id.in_(send_ids[i : i + 500])).values(**values)
            )

    def _confirm(self, conn, confirmed: list[tuple[OutboundMessage, Receipt]], now: dt.datetime) -> None:  # noqa: ANN001
        """Mark ``confirmed`` sent and store what their channels observed, with set-based statements."""
        if not confirmed:
            return
        ids = [m.send_id for m, _ in confirmed]
        self._set_many(conn, ids, status="sent", sent_at=now, updated_at=now, next_attempt_at=None, last_error=None)
        o = schema.send_outcomes
        rows, orders, unsubscribed = [], [], []
        for message, receipt in confirmed:
            seen: set[tuple] = set()
            for kind, ts, value in receipt.outcomes:
                if (kind, ts) not in seen:
                    seen.add((kind, ts))
                    rows.append({"send_id": message.send_id, "kind": kind, "ts": ts, "value": value})
                if kind == "unsubscribe":
                    unsubscribed.append(message)
            orders.extend(receipt.orders)
        if rows:
            for i in range(0, len(ids), 500):
                conn.execute(o.delete().where(o.c.send_id.in_(ids[i : i + 500])))
            insert_rows(conn, o, rows)
        if orders:
            order_ids = [r["order_id"] for r in orders]
            conn.execute(schema.order_lines.delete().where(schema.order_lines.c.order_id.in_(order_ids)))
            conn.execute(schema.orders.delete().where(schema.orders.c.order_id.in_(order_ids)))
            insert_rows(conn, schema.orders, orders)
            insert_rows(conn, schema.order_lines, [line for _, r in confirmed for line in r.order_lines])
        sp = schema.suppressions
        for message in unsubscribed:
            conn.execute(sp.delete().where(sp.c.customer_id == message.customer_id, sp.c.channel == message.channel))
            conn.execute(
                sp.insert().values(
                    customer_id=message.customer_id, channel=message.channel, reason="unsubscribed", created_at=now
                )
            )

    def _fail(self, conn, row, error: DeliveryError, now: dt.datetime, result: DispatchResult) -> None:  # noqa: ANN001
        attempts = int(row.attempts) + 1
        if error.transient and attempts < self.policy.max_attempts:
            self._update(
                conn,
                row.send_id,
                status="queued",
                next_attempt_at=now + self.policy.backoff(attempts),
                last_error=error.message[:1000],
                updated_at=now,
            )
            result.retried += 1
        else:
            self._update(conn, row.send_id, status="dead", last_error=error.message[:1000], updated_at=now)
            result.dead += 1
            log.warning("send %s dead-lettered after %d attempt(s): %s", row.send_id, attempts, error.message)

    # -------------------------------------------------------------------------------------- run
    def run(
        self,
        campaign_id: str,
        *,
        max_messages: int | None = None,
        on_progress: Callable[[DispatchResult], None] | None = None,
    ) -> DispatchResult:
        """Deliver the campaign's due sends until none are due (or ``max_messages`` were sent).
        With a :class:`SimClock`, time jumps to deferred sends so the whole campaign completes."""
        result = DispatchResult()
        lock.acquire(self.store, campaign_id, self.owner, lease_s=self.lease_s, takeover=self.takeover)
        try:
            while True:
                if not lock.heartbeat(self.store, campaign_id, self.owner):
                    result.stopped = "lock taken over by another dispatcher"
                    break
                if load_status(self.store, campaign_id) != "running":
                    result.stopped = "paused"
                    break
                if max_messages is not None and result.sent >= max_messages:
                    result.stopped = "limit"
                    break
                now = self.clock.now()
                batch = self._due(campaign_id, now)
                if batch.empty:
                    nxt = self._next_due(campaign_id)
                    if nxt is None:
                        if self._waiting(campaign_id):
                            result.stopped = "waiting for allocation"
                            break
                        try:
                            set_status(self.store, campaign_id, "completed")
                        except ConflictError:  # paused (or cancelled) meanwhile: the next run completes it
                            result.stopped = "paused"
                            break
                        result.stopped = "completed"
                        break
                    if self.clock.can_advance:
                        self.clock.advance_to(nxt)
                        continue
                    result.stopped = f"waiting until {nxt:%Y-%m-%d %H:%M} UTC"
                    break
                self._run_batch(batch, now, result)
                if on_progress:
                    on_progress(result)
        finally:
            self.router.close()
            lock.release(self.store, campaign_id, self.owner)
        return result

    def _run_batch(self, batch: pd.DataFrame, now: dt.datetime, result: DispatchResult) -> None:
        decided = check_batch(self.store, batch, now, self.policy)
        deliver, skipped, deferred = [], [], {}
        for row in decided.itertuples(index=False):
            if row.decision == "skip":
                skipped.append((row.send_id, row.reason))
            elif row.decision == "defer":
                deferred.setdefault(row.defer_until.to_pydatetime(), []).append(row.send_id)
            else:
                channel = self.router.get(row.channel)
                message = self._message(row)
                if channel is None or (channel.needs_address and not message.to):
                    skipped.append(
                        (
                            row.send_id,
                            f"no {row.channel} channel configured" if channel is None else f"no {row.channel} address",
                        )
                    )
                    continue
                deliver.append((row, message, channel))
        with self.store.begin() as conn:
            by_reason: dict[str, list[str]] = {}
            for send_id, reason in skipped:
                by_reason.setdefault(reason, []).append(send_id)
            for reason, ids in by_reason.items():
                self._set_many(conn, ids, status="skipped", last_error=reason, updated_at=now)
                result.skipped += len(ids)
                result.reasons[reason] = result.reasons.get(reason, 0) + len(ids)
            for until, ids in deferred.items():
                self._set_many(conn, ids, next_attempt_at=until, updated_at=now)
                result.deferred += len(ids)
            self._set_many(
                conn,
                [row.send_id for row, _, _ in deliver],
                status="sending",
                attempts=schema.sends.c.attempts + 1,
                updated_at=now,
            )
        by_channel: dict[str, list] = {}
        for item in deliver:
            by_channel.setdefault(item[1].channel, []).append(item)
        for items in by_channel.values():
            channel = items[0][2]
            if channel.batch:
                receipts = channel.deliver_batch([m for _, m, _ in items], now)
                with self.store.begin() as conn:  # deliver-and-confirm in one transaction
                    self._settle(
                        conn, [(row, m, r) for (row, m, _), r in zip(items, receipts, strict=True)], now, result
                    )
                continue
            for row, message, _ in items:
                try:
                    receipt: Receipt | DeliveryError = channel.deliver(message, now)
                except DeliveryError as exc:
                    receipt = exc
                with self.store.begin() as conn:
                    self._settle(conn, [(row, message, receipt)], now, result)

    def _settle(self, conn, items: list, now: dt.datetime, result: DispatchResult) -> None:  # noqa: ANN001
        confirmed = []
        for row, message, receipt in items:
            if isinstance(receipt, DeliveryError):
                self._fail(conn, row, receipt, now, result)
            else:
                confirmed.append((message, receipt))
        self._confirm(conn, confirmed, now)
        result.sent += len(confirmed)
