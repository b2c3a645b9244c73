"""The simulator channel: simulated customers of a :mod:`marketloop.sim` store open, click and buy.

Delivery draws each customer's response with :meth:`SimWorld.respond` at the (simulated) send time
and reports opens, clicks, conversions and unsubscribes as outcomes, and purchases as orders, so the
measurement code reads them exactly as it reads a real store's data. :func:`simulate_untreated` plays
the customers who were not messaged (holdout, skipped) with the same seed, so treated and untreated
outcomes are coupled the way the simulator defines them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from marketloop.delivery.channels.base import DeliveryError, OutboundMessage, Receipt
from marketloop.errors import InputError

if TYPE_CHECKING:
    from marketloop.store.engine import Store


class SimOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sim_dir: str = Field(..., description="folder written by marketloop sim generate")
    seed: int = Field(0, ge=0)


@lru_cache(maxsize=4)
def load_world(sim_dir: str):  # noqa: ANN201 - SimWorld, imported lazily
    from marketloop.sim import SimWorld

    if not Path(sim_dir).is_dir():
        raise InputError(
            f"sim_dir: folder {sim_dir!r} does not exist",
            field="sim_dir",
            value=sim_dir,
            hint="Generate one with: marketloop sim generate --out DIR",
        )
    return SimWorld.load(sim_dir)


def _fraction(*parts: str) -> float:
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _order_row(order_id: str, customer_id: str, at: dt.datetime, revenue: float) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "ordered_at": at,
        "status": "completed",
        "is_return": False,
        "total": float(revenue),
        "channel": "web",
        "source": "simulator",
    }


def _line_row(order_id: str, product_id: str, revenue: float, discount: float) -> dict[str, Any]:
    """One line carrying the whole order, so total = quantity x unit_price - discount holds."""
    unit_price = round(float(revenue) / (1.0 - discount), 2) if discount < 1 else float(revenue)
    return {
        "order_id": order_id,
        "line_no": 1,
        "product_id": product_id,
        "quantity": 1,
        "unit_price": unit_price,
        "discount": round(unit_price - float(revenue), 2),
    }


def _any_product(world, key: str) -> str:  # noqa: ANN001
    ids = world.product_ids
    return str(ids[int(_fraction(key, "product") * len(ids))])


class SimChannel:
    name: ClassVar[str] = "simulator"
    batch: ClassVar[bool] = True
    needs_address: ClassVar[bool] = False

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.world = load_world(str(Path(options.sim_dir).resolve()))

    def deliver(self, message: OutboundMessage, now: dt.datetime) -> Receipt:
        result = self.deliver_batch([message], now)[0]
        if isinstance(result, DeliveryError):
            raise result
        return result

    def deliver_batch(self, messages: list[OutboundMessage], now: dt.datetime) -> list[Receipt | DeliveryError]:
        from marketloop.sim import Message

        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, m in enumerate(messages):
            groups[(m.channel, m.discount, m.product_ids, m.window_days)].append(i)
        results: list[Receipt | DeliveryError] = [DeliveryError("not simulated", transient=True)] * len(messages)
        for (channel, discount, products, window), idx in groups.items():
            if channel not in ("email", "sms", "push"):
                for i in idx:
                    results[i] = DeliveryError(f"the simulator has no {channel} channel", transient=False)
                continue
            sim_message = Message(
                channel=channel, discount=discount or None, product_ids=tuple(products), send_at=now, window_days=window
            )
            drawn = self.world.respond([messages[i].customer_id for i in idx], sim_message, seed=self.options.seed)
            for i, row in zip(idx, drawn.itertuples(index=False), strict=True):
                results[i] = self._receipt(messages[i], row, now)
        return results

    def _receipt(self, m: OutboundMessage, row: Any, now: dt.datetime) -> Receipt:
        receipt = Receipt(provider_id=f"sim-{m.send_id}")
        if not row.delivered:
            receipt.outcomes.append(("bounce", now, None))
            return receipt
        receipt.outcomes.append(("delivered", now, None))
        if row.open:
            receipt.outcomes.append(("open", now + dt.timedelta(hours=1 + 6 * _fraction(m.send_id, "open")), None))
        if row.click:
            receipt.outcomes.append(("click", now + dt.timedelta(hours=8 + 6 * _fraction(m.send_id, "click")), None))
        if row.unsubscribe:
            receipt.outcomes.append(("unsubscribe", now + dt.timedelta(hours=2), None))
        if row.purchase:
            at = now + dt.timedelta(days=m.window_days * _fraction(m.send_id, "order"))
            receipt.outcomes.append(("conversion", at, float(row.revenue)))
            receipt.orders.append(_order_row(f"sim-{m.send_id}", m.customer_id, at, row.revenue))
            product = m.product_ids[0] if m.product_ids else _any_product(self.world, m.send_id)
            receipt.order_lines.append(_line_row(f"sim-{m.send_id}", product, row.revenue, m.discount))
        return receipt

    def close(self) -> None:
        """Nothing to release: the world is shared and cached."""


def simulate_untreated(
    store: Store,
    sim_dir: str | Path,
    sends: pd.DataFrame,
    at: dt.datetime,
    *,
    window_days: int,
    seed: int = 0,
) -> int:
    """Draw the untreated outcomes of customers that were not messaged (``sends`` rows: send_id,
    customer_id) and write their purchases as orders; returns the number of orders written."""
    from marketloop.sim import Message
    from marketloop.store import schema
    from marketloop.store.bulk import insert_rows

    if sends.empty:
        return 0
    world = load_world(str(Path(sim_dir).resolve()))
    drawn = world.respond(sends["customer_id"].tolist(), None, seed=seed)
    window_message = Message(send_at=at, window_days=window_days)  # validates the window
    rows, lines = [], []
    for send_id, customer_id, bought, revenue in zip(
        sends["send_id"], sends["customer_id"], drawn["purchase"], drawn["revenue"], strict=True
    ):
        if bought:
            when = at + dt.timedelta(days=window_message.window_days * _fraction(send_id, "order"))
            rows.append(_order_row(f"sim-{send_id}", customer_id, when, revenue))
            lines.append(_line_row(f"sim-{send_id}", _any_product(world, send_id), revenue, 0.0))
    if rows:
        ids = [r["order_id"] for r in rows]
        with store.begin() as conn:
            conn.execute(schema.order_lines.delete().where(schema.order_lines.c.order_id.in_(ids)))
            conn.execute(schema.orders.delete().where(schema.orders.c.order_id.in_(ids)))
            insert_rows(conn, schema.orders, rows)
            insert_rows(conn, schema.order_lines, lines)
    return len(rows)
