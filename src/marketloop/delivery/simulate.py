"""Run a launched campaign in simulation: every channel goes to the simulator, time is simulated, and
the customers who were not messaged (holdout, skipped) are played untreated with the same seed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from marketloop.delivery.channels.registry import ChannelRouter
from marketloop.delivery.channels.sim import load_world, simulate_untreated
from marketloop.delivery.checks import SendPolicy
from marketloop.delivery.dispatcher import Dispatcher, DispatchResult, SimClock
from marketloop.store import schema
from marketloop.store.campaigns import load_plan

if TYPE_CHECKING:
    from marketloop.store.engine import Store


def sim_router(sim_dir: str | Path, seed: int = 0) -> ChannelRouter:
    spec = {"provider": "simulator", "sim_dir": str(sim_dir), "seed": seed}
    return ChannelRouter({"email": spec, "sms": spec, "push": spec})


def run_simulated(
    store: Store,
    campaign_id: str,
    sim_dir: str | Path,
    *,
    seed: int = 0,
    policy: SendPolicy | None = None,
    start: dt.datetime | None = None,
) -> DispatchResult:
    """Dispatch the campaign to the simulator from ``start`` (default: the plan's send time, else the
    morning after the simulated history) and then play the untreated customers."""
    plan = load_plan(store, campaign_id)
    world = load_world(str(Path(sim_dir).resolve()))
    begin = start or plan.send_at or (world.now + dt.timedelta(hours=9))
    clock = SimClock(begin)
    result = Dispatcher(store, sim_router(sim_dir, seed), policy=policy, clock=clock, batch_size=1000).run(campaign_id)
    s = schema.sends.c
    first_sent = store.scalar(sa.select(sa.func.min(s.sent_at)).where(s.campaign_id == campaign_id, s.status == "sent"))
    at = pd.Timestamp(first_sent).to_pydatetime() if first_sent is not None else begin
    untreated = store.read_sql(
        sa.select(s.send_id, s.customer_id)
        .where(s.campaign_id == campaign_id, s.status.in_(("holdout", "skipped", "dead")))
        .order_by(s.send_id)
    )
    simulate_untreated(store, sim_dir, untreated, at, window_days=plan.window_days, seed=seed)
    return result
