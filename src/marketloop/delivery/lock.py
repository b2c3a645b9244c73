"""One dispatcher per campaign: a lock row with a heartbeat (wall-clock time, comparable across processes).

A dispatcher takes the lock when there is none, when it already holds it, when the holder's heartbeat
is older than the lease (the holder died), or when told to take it over (the operator knows the old
process is gone, e.g. after a crash). It renews the heartbeat every batch and stops if another
dispatcher took the lock over. This is what keeps two dispatchers on a server database (PostgreSQL,
MySQL) from delivering the same rows twice.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from marketloop.clock import wall_utcnow
from marketloop.errors import InputError
from marketloop.store import schema


class LockHeld(InputError):  # noqa: N818 - names the state ("the lock is held"), not an error of the caller
    """Another live dispatcher holds the campaign's dispatch lock."""


def new_owner() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now() -> dt.datetime:
    return wall_utcnow()


def _holder(store, campaign_id: str) -> tuple[str | None, dt.datetime | None]:  # noqa: ANN001
    t = schema.dispatch_locks.c
    row = store.read_sql(sa.select(t.owner, t.heartbeat_at).where(t.campaign_id == campaign_id))
    if row.empty:
        return None, None
    return row["owner"].iloc[0], pd.Timestamp(row["heartbeat_at"].iloc[0]).to_pydatetime()


def acquire(store, campaign_id: str, owner: str, *, lease_s: float, takeover: bool = False) -> None:  # noqa: ANN001
    """Take the campaign's dispatch lock or raise :class:`LockHeld` naming the current holder."""
    t = schema.dispatch_locks
    now = _now()
    try:
        with store.begin() as conn:
            conn.execute(t.insert().values(campaign_id=campaign_id, owner=owner, heartbeat_at=now))
        return
    except IntegrityError:
        pass  # held, or left by a dead dispatcher: try to take it over below
    stale = now - dt.timedelta(seconds=lease_s)
    condition = sa.true() if takeover else sa.or_(t.c.owner == owner, t.c.heartbeat_at < stale)
    with store.begin() as conn:
        conn.execute(t.update().where(t.c.campaign_id == campaign_id, condition).values(owner=owner, heartbeat_at=now))
    holder, beat = _holder(store, campaign_id)
    if holder != owner:
        age = (now - beat).total_seconds() if beat else float("nan")
        raise LockHeld(
            f"campaign {campaign_id!r} is being dispatched by {holder} (last heartbeat {age:.0f} s ago)",
            field="campaign_id",
            value=campaign_id,
            hint=f"Wait for it to finish (its lock lapses {lease_s:.0f} s after its last heartbeat), or, if that "
            "process is gone, rerun with --takeover.",
        )


def heartbeat(store, campaign_id: str, owner: str) -> bool:  # noqa: ANN001
    """Renew the lock; False when another dispatcher has taken it over."""
    t = schema.dispatch_locks
    with store.begin() as conn:
        conn.execute(t.update().where(t.c.campaign_id == campaign_id, t.c.owner == owner).values(heartbeat_at=_now()))
    return _holder(store, campaign_id)[0] == owner


def release(store, campaign_id: str, owner: str) -> None:  # noqa: ANN001
    t = schema.dispatch_locks
    with store.begin() as conn:
        conn.execute(t.delete().where(t.c.campaign_id == campaign_id, t.c.owner == owner))
