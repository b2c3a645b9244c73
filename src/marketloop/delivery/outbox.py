"""The outbox: a launched plan becomes one ``sends`` row per audience member before anything is sent.

Each row carries an idempotency key derived from (campaign, customer, channel, variant), so launching
twice adds nothing, and the dispatcher (and any receiver) can tell a resend from a new message. A
random holdout, stratified by plan group, is written as rows with status ``holdout`` and never sent:
it is what measurement compares against.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.delivery import personalise
from marketloop.errors import InputError
from marketloop.store import schema
from marketloop.store.bulk import insert_rows
from marketloop.store.campaigns import LAUNCHABLE, holdout_size, load_audience, load_campaign, set_status

if TYPE_CHECKING:
    from marketloop.store.engine import Store


def idempotency_key(campaign_id: str, customer_id: str, channel: str, variant: str) -> str:
    return hashlib.sha256(f"{campaign_id}\x1f{customer_id}\x1f{channel}\x1f{variant}".encode()).hexdigest()[:40]


def _rank(campaign_id: str, customer_ids: pd.Series, seed: int) -> np.ndarray:
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(f"{seed}|{campaign_id}|{c}".encode(), digest_size=8).digest(), "big")
            for c in customer_ids
        ],
        dtype=np.uint64,
    )


def draw_holdout(audience: pd.DataFrame, fraction: float, *, campaign_id: str, seed: int = 0) -> pd.Series:
    """A random holdout of ``fraction`` of each group (``group_name``), as a boolean Series.

    Within a group of n customers exactly round(fraction x n) are held out (at least one when
    fraction > 0 and n >= 2); the draw is a hash of (seed, campaign, customer), so it is reproducible
    and does not depend on the order of the audience.
    """
    held = pd.Series(False, index=audience.index)
    if fraction <= 0 or audience.empty:
        return held
    ranks = pd.Series(_rank(campaign_id, audience["customer_id"], seed), index=audience.index)
    for _, idx in audience.groupby("group_name", sort=True).groups.items():
        k = holdout_size(len(idx), fraction)
        chosen = ranks.loc[idx].sort_values(kind="stable").index[:k]
        held.loc[chosen] = True
    return held


@dataclass(frozen=True)
class LaunchSummary:
    campaign_id: str
    audience: int
    queued: int
    holdout: int
    already_in_outbox: int


def launch(
    store: Store,
    campaign_id: str,
    *,
    force_no_holdout: bool = False,
    holdout_fraction: float | None = None,
    seed: int = 0,
    now: dt.datetime | None = None,
    allocate: bool = False,
) -> LaunchSummary:
    """Write the campaign's messages to the outbox and mark it running (idempotent).

    With ``allocate=True`` the treated rows wait (status ``waiting``) until a bandit assigns their
    variant wave by wave (:mod:`marketloop.delivery.bandit`); the holdout is drawn as always."""
    campaign = load_campaign(store, campaign_id, require_plan=True)
    plan, status = campaign.plan, campaign.status
    if status not in LAUNCHABLE:
        raise InputError(
            f"campaign {campaign_id!r} is {status}; only an approved campaign can be launched",
            field="status",
            value=status,
            hint=f"Approve it first: marketloop campaign approve {campaign_id}",
        )
    fraction = plan.holdout_fraction if holdout_fraction is None else holdout_fraction
    if not 0 <= fraction < 1:
        raise InputError(
            f"holdout fraction: expected 0 <= f < 1, got {fraction}",
            field="holdout_fraction",
            value=fraction,
            hint="A 10 % holdout is 0.1.",
        )
    if fraction == 0 and not force_no_holdout:
        raise InputError(
            f"campaign {campaign_id!r} has no holdout, so its effect could never be measured",
            field="holdout_fraction",
            value=fraction,
            hint="Keep a holdout (e.g. 0.1), or pass --force-no-holdout if you really mean it.",
        )
    audience = load_audience(store, campaign_id)
    now = now or utcnow()
    s = schema.sends.c
    existing = set(store.read_sql(sa.select(s.idempotency_key).where(s.campaign_id == campaign_id))["idempotency_key"])
    if audience.empty:
        set_status(store, campaign_id, "running")
        return LaunchSummary(campaign_id, 0, 0, 0, len(existing))
    held = draw_holdout(audience, fraction, campaign_id=campaign_id, seed=seed)
    variants = {v.name: v for v in plan.variants}
    ids = audience["customer_id"].tolist()
    featured = personalise.featured_products(store, ids)
    names = personalise.product_names(store, sorted({p for ps in featured.values() for p in ps}))
    c = schema.customers.c
    first = (
        store.read_sql(sa.select(c.customer_id, c.first_name).where(c.customer_id.in_(ids)))
        if len(ids) <= 5000
        else store.read_sql(sa.select(c.customer_id, c.first_name))
    )
    first_names = dict(zip(first["customer_id"], first["first_name"], strict=True))
    send_at = plan.send_at if plan.send_at and plan.send_at > now else None
    rows = []
    for row, is_holdout in zip(audience.itertuples(index=False), held, strict=True):
        key = idempotency_key(campaign_id, row.customer_id, row.channel, row.variant)
        if key in existing:
            continue
        products = (
            json.loads(row.products_json)
            if isinstance(row.products_json, str) and row.products_json
            else featured[row.customer_id]
        )
        name = first_names.get(row.customer_id)
        payload = personalise.render_payload(
            variants[row.variant],
            campaign_id=campaign_id,
            customer_id=row.customer_id,
            group=row.group_name,
            discount=round(float(row.discount or 0.0), 6),  # REAL columns widen 0.1 to 0.10000000149
            products=products,
            names=names,
            first_name=name if isinstance(name, str) else None,
            window_days=plan.window_days,
        )
        rows.append(
            {
                "send_id": key[:32],
                "campaign_id": campaign_id,
                "customer_id": row.customer_id,
                "channel": row.channel,
                "variant": row.variant,
                "is_holdout": bool(is_holdout),
                "idempotency_key": key,
                "status": "holdout" if is_holdout else ("waiting" if allocate else "queued"),
                "payload_json": json.dumps(payload),
                "created_at": now,
                "sent_at": None,
                "attempts": 0,
                "next_attempt_at": send_at,
                "last_error": None,
                "updated_at": now,
            }
        )
    with store.begin() as conn:
        insert_rows(conn, schema.sends, rows)
    if status != "running":
        set_status(store, campaign_id, "running")
    holdout = sum(r["is_holdout"] for r in rows)
    return LaunchSummary(campaign_id, len(audience), len(rows) - holdout, holdout, len(existing))
