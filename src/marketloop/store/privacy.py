"""Privacy: pseudonymisation of contact details and erasure of a customer everywhere.

E-mail addresses and phone numbers are replaced on ingestion by a keyed hash (HMAC-SHA256 with the
secret from settings), so the store can still match a customer by address without holding it.
`forget` removes every row about one customer from every table that holds customer data, then writes
an audit record that names the customer only by its keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from marketloop.clock import wall_utcnow
from marketloop.errors import InputError, NotFoundError
from marketloop.store import schema
from marketloop.store.engine import Store


def pseudonymise(value: str | None, key: bytes) -> str | None:
    """Keyed hash of a normalised contact detail (lower-cased, trimmed); None stays None."""
    if value is None:
        return None
    return hmac.new(key, value.strip().lower().encode(), hashlib.sha256).hexdigest()


def customer_ref(customer_id: str, key: bytes) -> str:
    """How audit records name a customer: a keyed hash of the id (32 hex characters), the same in the
    erasure record and in every other record about the customer, and meaningless without the key."""
    return (pseudonymise(customer_id, key) or "")[:32]


@dataclass(frozen=True)
class ForgetResult:
    customer_ref: str
    deleted: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def forget(store: Store, customer_id: str, *, key: bytes, actor: str = "cli") -> ForgetResult:
    """Erase `customer_id` from every table in one transaction and audit it.

    Orders are deleted with their lines, sends with their outcomes, so no behavioural trace remains.
    Raises NotFoundError when no table knows the customer.
    """
    customer_id = customer_id.strip()
    if not customer_id:
        raise InputError(
            "customer id is empty",
            field="customer_id",
            value=customer_id,
            hint="Pass the customer's id, e.g. `marketloop privacy forget 12345`.",
        )
    ref = customer_ref(customer_id, key)
    deleted: dict[str, int] = {}
    with store.begin() as conn:
        orders = schema.orders
        order_ids = sa.select(orders.c.order_id).where(orders.c.customer_id == customer_id)
        deleted["order_lines"] = conn.execute(
            sa.delete(schema.order_lines).where(schema.order_lines.c.order_id.in_(order_ids))
        ).rowcount
        send_ids = sa.select(schema.sends.c.send_id).where(schema.sends.c.customer_id == customer_id)
        deleted["send_outcomes"] = conn.execute(
            sa.delete(schema.send_outcomes).where(schema.send_outcomes.c.send_id.in_(send_ids))
        ).rowcount
        for name, column in schema.CUSTOMER_TABLES.items():
            table = schema.metadata.tables[name]
            deleted[name] = conn.execute(sa.delete(table).where(table.c[column] == customer_id)).rowcount
        for name, column in extra_customer_tables().items():
            table = schema.metadata.tables[name]
            deleted[name] = conn.execute(sa.delete(table).where(table.c[column] == customer_id)).rowcount
        rejected = schema.rejected_rows
        deleted["rejected_rows"] = conn.execute(sa.delete(rejected).where(rejected.c.value == customer_id)).rowcount
        if not any(deleted.values()):
            raise NotFoundError(
                f"No data about customer {customer_id!r} in the store",
                hint="Check the id (`marketloop db status` shows what is loaded); nothing was changed.",
            )
        conn.execute(
            schema.audit_log.insert().values(
                audit_id=uuid.uuid4().hex,
                ts=wall_utcnow(),
                actor=actor,
                action="privacy.forget",
                target=ref,
                detail_json=json.dumps({"rows_deleted": {k: v for k, v in deleted.items() if v}}),
            )
        )
    return ForgetResult(ref, deleted)


def extra_customer_tables() -> dict[str, str]:
    """Tables added by later migrations that hold per-customer rows (any table with a customer_id
    column that is not already covered), so erasure keeps up with the schema automatically."""
    covered = set(schema.CUSTOMER_TABLES) | {"order_lines", "send_outcomes", "rejected_rows"}
    return {
        name: "customer_id"
        for name, table in schema.metadata.tables.items()
        if name not in covered and "customer_id" in table.c
    }
