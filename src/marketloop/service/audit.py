"""The audit log of administrative actions (keys, erasure, consents, campaign approval and launch).

Records name the actor by key id and name, never by secret; customers are named by their id only where
the action is about them (erasure names them by keyed hash, see ``store/privacy.py``).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from marketloop.clock import wall_utcnow
from marketloop.service.keys import Principal
from marketloop.store.schema import audit_log

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from marketloop.store.engine import Store


def actor_name(actor: Principal | str) -> str:
    """How the audit log names who acted: ``key:<key_id> (<name>, <role>)`` for an API key."""
    return actor if isinstance(actor, str) else f"key:{actor.key_id} ({actor.name}, {actor.role})"


def record(
    store: Store,
    actor: Principal | str,
    action: str,
    target: str | None = None,
    detail: dict | None = None,
    *,
    conn: Connection = None,
) -> None:
    who = actor_name(actor)
    values = {
        "audit_id": uuid.uuid4().hex,
        "ts": wall_utcnow(),
        "actor": who[:128],
        "action": action[:64],
        "target": None if target is None else str(target)[:128],
        "detail_json": None if detail is None else json.dumps(detail, default=str),
    }
    if conn is not None:
        conn.execute(audit_log.insert().values(**values))
        return
    with store.begin() as c:
        c.execute(audit_log.insert().values(**values))
