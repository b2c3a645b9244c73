"""`marketloop eval campaign`: the planner against naive policies and the oracle, in the simulator.

Per seed: generate a store, load it through ingestion, run an exploration round (every customer, by
default, gets a random offer or nothing; outcomes recorded as sends in the store), plan a
campaign for an incremental-profit goal on what the store holds, then let the simulator's customers
respond to each policy with the same random numbers (coupled draws) and compare with the same
customers left untreated:

- planner: the plan's audience and offers;
- everyone: everyone with 20 % off by e-mail;
- top 20 % propensity: the 20 % most likely to buy (LightGBM on store features), 20 % off;
- random 30 %: a random 30 %, 20 % off;
- everyone, no discount (a reference): the plain e-mail to everyone;
- oracle: each customer gets the offer (or nothing) with the best *true* expected incremental profit.

Realised incremental profit = margin with the policy - margin untreated - message costs. The
planner's pre-send prediction (incremental conversions and profit) is compared with what happened,
and its error is split into four parts with the simulator's truth (:func:`exploration_check`):

    predicted - realised = (predicted - estimate)   what the model adds to a model-free reading
                         + (estimate - truth)       the exploration round's sampling error
                         + (truth - expected)       explored customers vs the plan's customers
                         + (expected - realised)    the campaign's own luck (its coupled draws)
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from marketloop.strategy import EXPLORATION_SHARE
from marketloop.strategy.candidates import SEND_COST
from marketloop.strategy.goal import parse_goal

log = logging.getLogger(__name__)
DISCOUNTS = (0.0, 0.1, 0.2)
EVAL_GOAL = {
    "name": "Simulator evaluation: maximise incremental profit",
    "objective": "incremental_profit",
    "discounts": list(DISCOUNTS),
    "max_discount": 0.3,
    "margin_floor": 0.0,
    "channels": ["email"],
    "holdout_fraction": 0.0,
}


def realised(world, assignment: pd.DataFrame, send_at: dt.datetime, seed: int) -> dict[str, float]:  # noqa: ANN001
    """Outcomes of ``assignment`` (customer_id, channel, discount) against the same customers untreated."""
    from marketloop.sim import Message

    totals = {
        "customers": 0.0,
        "incremental_profit": 0.0,
        "incremental_conversions": 0.0,
        "incremental_revenue": 0.0,
        "expected_incremental_profit": 0.0,
        "expected_incremental_conversions": 0.0,
    }
    for (channel, discount), part in assignment.groupby(["channel", "discount"]):
        ids = part["customer_id"].to_numpy()
        message = Message(channel=channel, discount=float(discount) or None, send_at=send_at)
        treated = world.respond(ids, message, seed=seed)
        control = world.respond(ids, None, seed=seed)
        truth = world.true_uplift(ids, message)
        cost = treated["delivered"].to_numpy() * SEND_COST[channel]
        totals["customers"] += len(ids)
        totals["incremental_profit"] += float((treated["margin"] - control["margin"]).sum() - cost.sum())
        totals["incremental_conversions"] += float(treated["purchase"].sum() - control["purchase"].sum())
        totals["incremental_revenue"] += float((treated["revenue"] - control["revenue"]).sum())
        totals["expected_incremental_profit"] += float(truth["expected_incremental_profit"].sum())
        totals["expected_incremental_conversions"] += float(truth["uplift"].sum())
    return {k: round(v, 2) for k, v in totals.items()}


def exploration_check(world, history, assignment: pd.DataFrame) -> dict[str, float]:  # noqa: ANN001
    """A model-free reading of a plan's incremental conversions from its randomised history, and its truth.

    For each offer (channel, discount) in ``assignment``: the history's difference in conversion rates
    between that offer's arm and the control, among the customers the channel reaches (the only ones a
    plan contacts), times the plan's customers on the offer (``estimate``); and the same with the
    simulator's exact mean uplift of those explored customers at the history's send time (``truth``).
    ``estimate - truth`` is the sampling error of the exploration round alone: no model, no transfer.
    """
    from marketloop.sim import Message
    from marketloop.strategy.history import CONTROL, arm_name

    rows = history.rows
    out = {"estimate": 0.0, "truth": 0.0}
    for (channel, discount), part in assignment.groupby(["channel", "discount"]):
        sample = rows[rows["arm"].isin([CONTROL, arm_name(channel, discount)])]
        if (sample["arm"] == CONTROL).all() or (sample["arm"] != CONTROL).all():
            continue  # an offer the history never tried (the model could not predict it either)
        truth = world.true_uplift(
            sample["customer_id"], Message(channel=channel, discount=float(discount) or None, send_at=history.sent_at)
        )
        reached = truth["delivered"].to_numpy()
        treated = (sample["arm"] != CONTROL).to_numpy()
        converted = sample["converted"].to_numpy(dtype=float)
        effect = converted[reached & treated].mean() - converted[reached & ~treated].mean()
        out["estimate"] += len(part) * float(effect)
        out["truth"] += len(part) * float(truth["uplift"].to_numpy()[reached].mean())
    return {k: round(v, 2) for k, v in out.items()}


def oracle_assignment(world, ids: np.ndarray, send_at: dt.datetime) -> pd.DataFrame:  # noqa: ANN001
    from marketloop.sim import Message

    profits = np.stack(
        [
            world.true_uplift(ids, Message(channel="email", discount=d or None, send_at=send_at))[
                "expected_incremental_profit"
            ].to_numpy()
            for d in DISCOUNTS
        ]
    )
    best = profits.argmax(axis=0)
    keep = profits.max(axis=0) > 0
    return pd.DataFrame({"customer_id": ids[keep], "channel": "email", "discount": np.array(DISCOUNTS)[best[keep]]})


def evaluate_seed(
    seed: int,
    customers: int,
    work: Path,
    *,
    days: int = 365,
    products: int = 300,
    learner: str = "t_learner",
    explore_fraction: float = EXPLORATION_SHARE,
) -> dict:
    from marketloop.config import load_settings
    from marketloop.sim import SimWorld, generate_store
    from marketloop.store.engine import open_store
    from marketloop.store.ingest import load_dataset
    from marketloop.strategy.history import run_exploration
    from marketloop.strategy.planner import plan_campaign
    from marketloop.strategy.propensity import purchase_propensity

    timings: dict[str, float] = {}
    started = time.perf_counter()
    sim_dir = work / f"sim-{seed}"
    manifest = generate_store(sim_dir, customers=customers, products=products, days=days, seed=seed)
    settings = load_settings(db_url=f"duckdb:///{work / f'store-{seed}.duckdb'}", secret_file=work / f"key-{seed}")
    store = open_store(settings.db_url)
    try:
        load_dataset(store, sim_dir, manifest.files, settings=settings)
        world = SimWorld.load(sim_dir)
        timings["store"] = time.perf_counter() - started
        started = time.perf_counter()
        goal = parse_goal(EVAL_GOAL)
        arms = [("email", d) for d in DISCOUNTS]
        history = run_exploration(store, world, world.customer_ids, arms, fraction=explore_fraction, seed=1_000 + seed)
        timings["explore"] = time.perf_counter() - started
        started = time.perf_counter()
        result = plan_campaign(store, goal, history=history, learner=learner, random_state=seed)
        timings["plan"] = time.perf_counter() - started
        started = time.perf_counter()
        send_at = result.plan.send_at
        ids = np.asarray(world.customer_ids, dtype=object)
        rng = np.random.default_rng(seed)
        propensity = purchase_propensity(store, random_state=seed).reindex(ids).fillna(0.0)
        top = propensity.sort_values(ascending=False).index[: int(0.2 * len(ids))].to_numpy()
        twenty = lambda who: pd.DataFrame({"customer_id": who, "channel": "email", "discount": 0.2})  # noqa: E731
        policies = {
            "planner": result.audience[["customer_id", "channel", "discount"]],
            "everyone_20": twenty(ids),
            "top20_propensity_20": twenty(top),
            "random30_20": twenty(ids[rng.random(len(ids)) < 0.3]),
            "oracle": oracle_assignment(world, ids, send_at),
            # a reference, not one of the naive policies of the acceptance: the plain e-mail to everyone
            "everyone_no_discount": pd.DataFrame({"customer_id": ids, "channel": "email", "discount": 0.0}),
        }
        eval_seed = 50_000 + seed
        out = {name: realised(world, assign, send_at, eval_seed) for name, assign in policies.items()}
        explore_assign = history.rows[history.rows["arm"] != "control"].assign(
            channel="email", discount=lambda f: [int(a.split("-")[1]) / 100 for a in f["arm"]]
        )
        exploration = realised(world, explore_assign[["customer_id", "channel", "discount"]], send_at, 1_000 + seed)
        timings["evaluate"] = time.perf_counter() - started
        pred = result.plan.predictions
        return {
            "seed": seed,
            "customers": customers,
            "policies": out,
            "exploration": exploration,
            "predicted": {k: pred[k].model_dump() for k in ("incremental_conversions", "incremental_profit", "reach")},
            "prediction_check": exploration_check(world, history, policies["planner"]),
            "plan_groups": [
                {"group": g.group, "customers": g.customers, "included": g.included} for g in result.plan.groups
            ],
            "seconds": {k: round(v, 1) for k, v in timings.items()},
        }
    finally:
        store.close()


def summarise(runs: list[dict]) -> dict:
    names = list(runs[0]["policies"])
    mean = {n: float(np.mean([r["policies"][n]["incremental_profit"] for r in runs])) for n in names}
    naive = {n: v for n, v in mean.items() if n not in ("planner", "oracle", "everyone_no_discount")}
    best_naive = max(naive, key=naive.get)
    pred_conv = np.array([r["predicted"]["incremental_conversions"]["mean"] for r in runs])
    real_conv = np.array([r["policies"]["planner"]["incremental_conversions"] for r in runs])
    expected_conv = np.array([r["policies"]["planner"]["expected_incremental_conversions"] for r in runs])
    estimate = np.array([r["prediction_check"]["estimate"] for r in runs])
    truth = np.array([r["prediction_check"]["truth"] for r in runs])
    parts = {
        "model": pred_conv - estimate,
        "exploration_sampling": estimate - truth,
        "explored_vs_planned_customers": truth - expected_conv,
        "campaign_luck": expected_conv - real_conv,
    }
    pred_profit = np.array([r["predicted"]["incremental_profit"]["mean"] for r in runs])
    real_profit = np.array([r["policies"]["planner"]["incremental_profit"] for r in runs])
    covered = [
        r["predicted"]["incremental_conversions"]["low"]
        <= r["policies"]["planner"]["incremental_conversions"]
        <= r["predicted"]["incremental_conversions"]["high"]
        for r in runs
    ]
    planner = mean["planner"]
    return {
        "mean_incremental_profit": {k: round(v, 2) for k, v in mean.items()},
        "best_naive_policy": best_naive,
        "planner_vs_best_naive": round(planner / mean[best_naive], 3) if mean[best_naive] > 0 else None,
        "planner_minus_best_naive": round(planner - mean[best_naive], 2),
        "planner_vs_everyone_no_discount": round(planner / mean["everyone_no_discount"], 3)
        if mean["everyone_no_discount"] > 0
        else None,
        "planner_vs_oracle": round(planner / mean["oracle"], 3) if mean["oracle"] > 0 else None,
        "predicted_incremental_conversions": round(float(pred_conv.mean()), 2),
        "realised_incremental_conversions": round(float(real_conv.mean()), 2),
        "prediction_error_conversions": round(float(pred_conv.mean() / real_conv.mean() - 1), 3)
        if real_conv.mean()
        else None,
        "prediction_error_conversions_per_seed": [
            round(float(p / r - 1), 3) if r else None for p, r in zip(pred_conv, real_conv, strict=True)
        ],
        "interval_covers_realised": int(sum(covered)),
        "expected_incremental_conversions": round(float(expected_conv.mean()), 2),
        "prediction_error_vs_expected": round(float(pred_conv.mean() / expected_conv.mean() - 1), 3)
        if expected_conv.mean()
        else None,
        "prediction_error_vs_expected_per_seed": [
            round(float(p / e - 1), 3) if e else None for p, e in zip(pred_conv, expected_conv, strict=True)
        ],
        # predicted - realised incremental conversions, split (see the module docstring); mean over seeds
        "prediction_error_parts": {k: round(float(v.mean()), 2) for k, v in parts.items()},
        "prediction_error_parts_per_seed": {k: [round(float(x), 1) for x in v] for k, v in parts.items()},
        "predicted_incremental_profit": round(float(pred_profit.mean()), 2),
        "realised_incremental_profit": round(float(real_profit.mean()), 2),
        "mean_exploration_profit": round(float(np.mean([r["exploration"]["incremental_profit"] for r in runs])), 2),
    }


def evaluate_campaigns(
    seeds: int = 5,
    customers: int = 50_000,
    *,
    days: int = 365,
    learner: str = "t_learner",
    progress: Callable[[int], None] | None = None,
    work_dir: str | Path | None = None,
    first_seed: int = 0,
    explore_fraction: float = EXPLORATION_SHARE,
) -> dict:
    """Run :func:`evaluate_seed` for seeds ``first_seed`` .. ``first_seed + seeds - 1`` and summarise (see the
    module docstring). The reported figures use seeds 0-4; development uses other seeds (10-14)."""
    from marketloop.errors import InputError

    if seeds < 1:
        raise InputError(f"--seeds: expected at least 1, got {seeds}", field="seeds", value=seeds)
    if customers < 2_000:
        raise InputError(
            f"--customers: expected at least 2,000 (uplift needs a few thousand per arm), got {customers}",
            field="customers",
            value=customers,
            hint="Use 20,000 or more for stable figures.",
        )
    if not 0 < explore_fraction <= 1:
        raise InputError(
            f"--explore-fraction: expected a share in (0, 1], got {explore_fraction}",
            field="explore_fraction",
            value=explore_fraction,
            hint=f"Use {EXPLORATION_SHARE:g} (every customer) or, say, 0.5 for half of them.",
        )
    runs = []
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        for seed in range(first_seed, first_seed + seeds):
            runs.append(
                evaluate_seed(seed, customers, Path(tmp), days=days, learner=learner, explore_fraction=explore_fraction)
            )
            if progress:
                progress(seed)
    return {
        "seeds": seeds,
        "first_seed": first_seed,
        "customers": customers,
        "days": days,
        "learner": learner,
        "explore_fraction": explore_fraction,
        "summary": summarise(runs),
        "runs": runs,
    }
