"""Bandit allocation of a campaign's variants, wave by wave, as outcomes arrive.

Launch with ``allocate=True``: treated rows wait. Each wave, :func:`allocate_wave` takes the next
``size`` waiting rows (in the random order of their send ids), asks the policy for an arm per row,
re-renders the payload for the chosen variant, records the allocation probability (the propensity,
for later off-policy evaluation) and queues them; the dispatcher delivers them; :func:`observed_rewards`
reads what the sent messages have produced so far, and the policy is refitted on it. When the policy's
stop rule fires, the remaining rows all get the winning variant.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa

from marketloop.delivery import personalise
from marketloop.errors import InputError
from marketloop.learn.bandits import ThompsonSampling
from marketloop.store import schema
from marketloop.store.campaigns import load_plan

if TYPE_CHECKING:
    from marketloop.store.engine import Store

REWARDS = ("click", "conversion", "revenue")


def observed_rewards(
    store: Store, campaign_id: str, variants: list[str], upto: dt.datetime, reward: str
) -> tuple[np.ndarray, np.ndarray]:
    """(arms, rewards) of the campaign's sent messages, counting outcomes observed up to ``upto``."""
    s, o = schema.sends.c, schema.send_outcomes.c
    sent = store.read_sql(sa.select(s.send_id, s.variant).where(s.campaign_id == campaign_id, s.status == "sent"))
    kind = "click" if reward == "click" else "conversion"
    seen = store.read_sql(
        sa.select(o.send_id, o.value)
        .select_from(schema.send_outcomes.join(schema.sends, s.send_id == o.send_id))
        .where(s.campaign_id == campaign_id, o.kind == kind, o.ts <= upto)
    )
    value = (
        seen.groupby("send_id")["value"].sum() if reward == "revenue" else seen.groupby("send_id").size().clip(upper=1)
    )
    rewards = sent["send_id"].map(value).fillna(0.0).to_numpy(float)
    index = {v: i for i, v in enumerate(variants)}
    return sent["variant"].map(index).to_numpy(int), rewards


def allocate_wave(store, campaign_id: str, policy: ThompsonSampling, size: int, *, winner: int | None = None) -> int:  # noqa: ANN001
    """Assign variants to the next ``size`` waiting rows and queue them; returns how many."""
    plan = load_plan(store, campaign_id)
    variants = plan.variants
    s = schema.sends.c
    rows = store.read_sql(
        sa.select(s.send_id, s.customer_id, s.payload_json)
        .where(s.campaign_id == campaign_id, s.status == "waiting")
        .order_by(s.send_id)
        .limit(size)
    )
    if rows.empty:
        return 0
    probs = policy.allocation() if winner is None else np.eye(len(variants))[winner]
    arms = policy._rng.choice(len(variants), size=len(rows), p=probs)
    payloads = [json.loads(p) for p in rows["payload_json"]]
    names = personalise.product_names(store, sorted({p for pl in payloads for p in pl["product_ids"]}))
    with store.begin() as conn:
        for send_id, customer_id, payload, arm in zip(
            rows["send_id"], rows["customer_id"], payloads, arms, strict=True
        ):
            variant = variants[arm]
            new = personalise.render_payload(
                variant,
                campaign_id=campaign_id,
                customer_id=customer_id,
                group=payload["group"],
                discount=variant.offer.discount,
                products=payload["product_ids"],
                names=names,
                first_name=payload.get("first_name"),
                window_days=payload["window_days"],
            )
            new["propensity"] = float(probs[arm])
            conn.execute(
                schema.sends.update()
                .where(s.send_id == send_id)
                .values(variant=variant.name, status="queued", payload_json=json.dumps(new))
            )
    return len(rows)


@dataclass
class WaveLog:
    waves: list[dict] = field(default_factory=list)
    stopped_at_wave: int | None = None
    winner: str | None = None


def run_bandit_simulated(
    store: Store,
    campaign_id: str,
    sim_dir: str | Path,
    *,
    waves: int = 4,
    reward: str = "click",
    floor: float = 0.1,
    wave_hours: float = 48.0,
    seed: int = 0,
) -> WaveLog:
    """Run a launched (``allocate=True``) campaign in simulation, reallocating variants each wave."""
    from marketloop.delivery.channels.sim import load_world, simulate_untreated
    from marketloop.delivery.dispatcher import Dispatcher, SimClock
    from marketloop.delivery.simulate import sim_router

    if reward not in REWARDS:
        raise InputError(
            f"reward: expected one of {', '.join(REWARDS)}, got {reward!r}",
            field="reward",
            value=reward,
            hint="click is the fastest signal; revenue the one that pays.",
        )
    if waves < 1:
        raise InputError(f"waves: expected at least 1, got {waves}", field="waves", value=waves, hint="E.g. 4.")
    plan = load_plan(store, campaign_id)
    names = [v.name for v in plan.variants]
    s = schema.sends.c
    waiting = int(
        store.scalar(
            sa.select(sa.func.count())
            .select_from(schema.sends)
            .where(s.campaign_id == campaign_id, s.status == "waiting")
        )
    )
    world = load_world(str(Path(sim_dir).resolve()))
    clock = SimClock(plan.send_at or (world.now + dt.timedelta(hours=9)))
    log = WaveLog()
    size = int(np.ceil(waiting / waves))
    winner: int | None = None
    start = clock.now()
    for wave in range(waves):
        policy = ThompsonSampling(
            len(names), reward="revenue" if reward == "revenue" else "binary", floor=floor, random_state=seed + wave
        )
        arms, rewards = observed_rewards(store, campaign_id, names, clock.now(), reward)
        policy.update(arms, rewards)
        if winner is None and policy.should_stop(min_trials=50):
            winner = int(policy.prob_best().argmax())
            log.stopped_at_wave, log.winner = wave, names[winner]
        allocation = policy.allocation() if winner is None else np.eye(len(names))[winner]
        n = allocate_wave(store, campaign_id, policy, size, winner=winner)
        wave_start = clock.now()
        result = Dispatcher(store, sim_router(sim_dir, seed), clock=clock, batch_size=1000).run(campaign_id)
        log.waves.append(
            {
                "wave": wave,
                "allocated": n,
                "sent": result.sent,
                "allocation": {name: round(float(p), 3) for name, p in zip(names, allocation, strict=True)},
                "observed": {name: int((arms == i).sum()) for i, name in enumerate(names)},
                "rewards": {name: float(rewards[arms == i].sum()) for i, name in enumerate(names)},
            }
        )
        clock.advance_to(wave_start + dt.timedelta(hours=wave_hours))
    untreated = store.read_sql(
        sa.select(s.send_id, s.customer_id)
        .where(s.campaign_id == campaign_id, s.status.in_(("holdout", "skipped", "dead")))
        .order_by(s.send_id)
    )
    simulate_untreated(store, sim_dir, untreated, start, window_days=plan.window_days, seed=seed)
    return log
