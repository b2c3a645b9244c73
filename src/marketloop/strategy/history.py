"""Randomised history: the training data of uplift models.

Uplift can only be learned from randomised contact: customers who got an offer next to comparable
customers who were held out. This module reads that history from the store (``sends`` with
``is_holdout`` and ``payload_json`` carrying the offer, ``send_outcomes`` with conversions), and,
for a simulated store without such history, runs an *exploration round*: a random subset of
customers gets a random arm (one of the goal's channel x discount offers, or nothing), the
simulator draws the outcomes, and they are written to the store as an ordinary past campaign. So
models always train on what the store holds, never on the simulator's hidden truth.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.clock import utcnow
from marketloop.errors import InputError
from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.campaigns import record_campaign
from marketloop.store.engine import Store
from marketloop.strategy import EXPLORATION_SHARE

if TYPE_CHECKING:
    from marketloop.sim.world import SimWorld

log = logging.getLogger(__name__)
CONTROL = "control"
EXPLORATION_PREFIX = "explore-"


def arm_name(channel: str, discount: float) -> str:
    return f"{channel}-{round(discount * 100):d}"


def parse_arm(name: str) -> tuple[str, float]:
    channel, pct = name.rsplit("-", 1)
    return channel, int(pct) / 100.0


@dataclass
class RandomisedHistory:
    """One row per contacted-or-held-out customer: ``customer_id``, ``arm``, ``converted``, ``revenue``,
    ``opened``, ``clicked``; ``sent_at`` is when the test went out (the features' cut-off)."""

    rows: pd.DataFrame
    sent_at: dt.datetime
    campaigns: list[str]

    @property
    def arms(self) -> list[str]:
        return sorted(a for a in self.rows["arm"].unique() if a != CONTROL)


def read_history(store: Store, campaign_ids: list[str] | None = None) -> RandomisedHistory | None:
    """Past sends with a holdout (the latest such campaign, or the given ones); None when there are none."""
    s, o = schema.sends, schema.send_outcomes
    with_holdout = store.read_sql(
        sa.select(s.c.campaign_id, sa.func.min(s.c.sent_at).label("sent_at"), sa.func.count().label("n"))
        .where(s.c.is_holdout.is_(True))
        .group_by(s.c.campaign_id)
    )
    if campaign_ids is not None:
        with_holdout = with_holdout[with_holdout["campaign_id"].isin(campaign_ids)]
    if with_holdout.empty:
        return None
    chosen = (
        [str(with_holdout.sort_values("sent_at").iloc[-1]["campaign_id"])]
        if campaign_ids is None
        else list(campaign_ids)
    )
    sends = store.read_sql(
        sa.select(
            s.c.send_id, s.c.customer_id, s.c.channel, s.c.is_holdout, s.c.payload_json, s.c.sent_at, s.c.created_at
        ).where(s.c.campaign_id.in_(chosen))
    )
    outcomes = store.read_sql(
        sa.select(o.c.send_id, o.c.kind, o.c.value).where(
            o.c.send_id.in_(sa.select(s.c.send_id).where(s.c.campaign_id.in_(chosen)))
        )
    )
    discount = [float((json.loads(p) if p else {}).get("discount", 0.0) or 0.0) for p in sends["payload_json"]]
    arms = [
        CONTROL if h else arm_name(c, d)
        for h, c, d in zip(sends["is_holdout"], sends["channel"], discount, strict=True)
    ]
    rows = pd.DataFrame(
        {"send_id": sends["send_id"].astype(str), "customer_id": sends["customer_id"].astype(str), "arm": arms}
    )
    by_kind = (
        outcomes.assign(one=1).pivot_table(index="send_id", columns="kind", values="one", aggfunc="sum")
        if len(outcomes)
        else pd.DataFrame()
    )
    revenue = (
        outcomes[outcomes["kind"] == "conversion"].groupby("send_id")["value"].sum()
        if len(outcomes)
        else pd.Series(dtype=float)
    )
    for kind, col in (("conversion", "converted"), ("open", "opened"), ("click", "clicked")):
        hit = by_kind[kind] if kind in by_kind else pd.Series(dtype=float)
        rows[col] = rows["send_id"].map(hit).fillna(0).gt(0).astype(int)
    rows["revenue"] = rows["send_id"].map(revenue).fillna(0.0).astype(float)
    times = pd.to_datetime(sends["sent_at"].fillna(sends["created_at"]))
    rows = rows.drop_duplicates("customer_id", keep="last").reset_index(drop=True)
    return RandomisedHistory(rows=rows, sent_at=times.min().to_pydatetime(), campaigns=chosen)


def exploration_arms(goal) -> list[tuple[str, float]]:  # noqa: ANN001 - a strategy.goal.Goal
    """The offers an exploration round for ``goal`` tries: each of its channels (webhooks have no
    simulated customers) with each of its discount levels."""
    return [(c, d) for c in goal.channels if c != "webhook" for d in goal.discounts]


def draw_exploration(
    world: SimWorld,
    customer_ids: list[str] | np.ndarray,
    arms: list[tuple[str, float]],
    *,
    fraction: float = EXPLORATION_SHARE,
    seed: int = 0,
    window_days: int = 14,
    send_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """The simulator's side of an exploration round: a random ``fraction`` of ``customer_ids`` gets a
    random arm (or nothing, the control), and ``world`` draws their outcomes.

    One row per picked customer: ``customer_id``, ``arm``, ``channel``, ``discount``, ``sent_at`` and the
    drawn ``delivered``, ``open``, ``click``, ``purchase``, ``revenue``, ``unsubscribe``. Nothing is
    written (see :func:`run_exploration`), so studies of the round's sampling error can repeat it cheaply.
    """
    from marketloop.sim import Message

    if not 0 < fraction <= 1:
        raise InputError(f"fraction: expected a share in (0, 1], got {fraction!r}", field="fraction", value=fraction)
    if not arms:
        raise InputError("arms: expected at least one (channel, discount) arm to explore", field="arms")
    rng = np.random.default_rng(seed)
    ids = np.asarray(customer_ids, dtype=object)
    picked = ids[rng.random(len(ids)) < fraction]
    assignment = rng.integers(0, len(arms) + 1, size=len(picked))  # 0 = control
    send_at = send_at or world.now + dt.timedelta(hours=9)
    parts = []
    for k in range(len(arms) + 1):
        who = picked[assignment == k]
        if not len(who):
            continue
        channel, discount = arms[k - 1] if k else (arms[0][0], 0.0)
        message = (
            Message(channel=channel, discount=discount or None, send_at=send_at, window_days=window_days) if k else None
        )
        drawn = world.respond(who, message, seed=seed)
        parts.append(
            drawn.assign(
                arm=arm_name(channel, discount) if k else CONTROL, channel=channel, discount=discount, sent_at=send_at
            )
        )
    columns = [
        "customer_id",
        "arm",
        "channel",
        "discount",
        "sent_at",
        "delivered",
        "open",
        "click",
        "purchase",
        "revenue",
        "unsubscribe",
    ]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def run_exploration(
    store: Store,
    world: SimWorld,
    customer_ids: list[str] | np.ndarray,
    arms: list[tuple[str, float]],
    *,
    fraction: float = EXPLORATION_SHARE,
    seed: int = 0,
    window_days: int = 14,
    send_at: dt.datetime | None = None,
) -> RandomisedHistory:
    """Run :func:`draw_exploration` and record its sends and outcomes in the store as campaign
    ``explore-<seed>``."""
    drawn = draw_exploration(
        world, customer_ids, arms, fraction=fraction, seed=seed, window_days=window_days, send_at=send_at
    )
    send_at = send_at or world.now + dt.timedelta(hours=9)
    campaign_id = f"{EXPLORATION_PREFIX}{seed}-{send_at:%Y%m%d}"
    sends, outcomes = [], []
    created = utcnow()
    for row in drawn.itertuples(index=False):
        send_id = f"{campaign_id}-{row.customer_id}"
        holdout = row.arm == CONTROL
        sends.append(
            {
                "send_id": send_id,
                "campaign_id": campaign_id,
                "customer_id": row.customer_id,
                "channel": row.channel,
                "variant": row.arm,
                "is_holdout": holdout,
                "idempotency_key": send_id,
                "status": "holdout" if holdout else ("delivered" if row.delivered else "failed"),
                "payload_json": json.dumps({"discount": row.discount}),
                "created_at": created,
                "sent_at": send_at,
            }
        )
        when = send_at + dt.timedelta(days=1)
        for kind, hit, value in (
            ("delivered", row.delivered, None),
            ("open", row.open, None),
            ("click", row.click, None),
            ("conversion", row.purchase, float(row.revenue)),
            ("unsubscribe", row.unsubscribe, None),
        ):
            if hit:
                outcomes.append({"send_id": send_id, "kind": kind, "ts": when, "value": value})
    with store.begin() as conn:
        record_campaign(
            conn,
            campaign_id,
            "Exploration round (randomised offers)",
            status="completed",
            goal={"arms": [arm_name(*a) for a in arms], "fraction": fraction},
            at=created,
        )
        insert_frame(conn, schema.sends, pd.DataFrame(sends))
        insert_frame(conn, schema.send_outcomes, pd.DataFrame(outcomes))
    log.info("exploration round %s: %d customers, %d arms", campaign_id, len(drawn), len(arms))
    history = read_history(store, [campaign_id])
    if history is None:  # nobody was held out (a tiny customer list)
        raise InputError(
            f"customer_ids: the exploration round drew no holdout among {len(drawn)} customers",
            field="customer_ids",
            value=len(drawn),
            hint="Explore with more customers or a larger fraction.",
        )
    return history
