"""The planner: goal -> candidates (audience x offer x channel x timing) -> predictions -> the plan.

1. learn: the offer response model on the store's randomised history (features as of that test);
2. eligible audience: the goal's filter and frequency caps, on features as of now;
3. candidates: every allowed arm per customer on every candidate send day, the baseline scaled by
   the demand forecast (calendar, promotions, prices: :func:`marketloop.forecast.baseline.demand_factor`);
   the day with the best total objective wins (``clear_stock``: predicted extra units of the
   overstocked products, up to the units to move);
4. choose: the audience's offer (the cheapest that pays, or a costlier one clearly better on
   average), and per customer another arm or nothing where the predicted advantage is clear of the
   prediction's uncertainty; within the budget (see :func:`marketloop.strategy.candidates.choose`);
5. explain: customers are grouped by predicted response (put off by messages, would buy anyway,
   persuadable, low response) x decision, each group with its predictions (bootstrap intervals)
   and the reason it was included or left out; a rationale is written from the numbers.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketloop.clock import utcnow
from marketloop.errors import InputError
from marketloop.forecast.baseline import demand_factor
from marketloop.store import schema
from marketloop.store.campaigns import CampaignPlan, GroupPlan, Offer, Variant
from marketloop.store.engine import Store
from marketloop.strategy.candidates import ArmPrediction, choose, predict_arms
from marketloop.strategy.features import FEATURES, basket_and_cost, customer_features, store_now
from marketloop.strategy.goal import Goal
from marketloop.strategy.history import RandomisedHistory, parse_arm, read_history
from marketloop.strategy.intervals import group_predictions
from marketloop.strategy.products import products_json
from marketloop.strategy.rationale import TemplateRationaleWriter, group_reason
from marketloop.strategy.response import OfferResponseModel

log = logging.getLogger(__name__)
KIND_LABELS = {
    "put_off": "put off by messages",
    "buy_anyway": "would buy anyway",
    "persuadable": "persuadable",
    "low_response": "low response",
}


@dataclass
class PlanResult:
    plan: CampaignPlan
    goal: Goal
    audience: pd.DataFrame  # included customers: customer_id, group_name, variant, channel, discount, predicted_*
    decisions: pd.DataFrame  # every eligible customer: kind, arm (or ''), reason, predicted uplift / profit
    facts: dict = field(default_factory=dict)  # numbers behind the rationale (learner, calendar, history)


def eligible_features(store: Store, goal: Goal, as_of: dt.datetime) -> pd.DataFrame:
    feats = customer_features(store, as_of=as_of, customer_ids=goal.eligible.customer_ids)
    e = goal.eligible
    keep = feats["orders"] >= e.min_orders
    since = feats["days_since_order"]
    if e.min_days_since_order is not None:
        keep &= since >= e.min_days_since_order
    if e.max_days_since_order is not None:
        keep &= since <= e.max_days_since_order
    segment = segment_of(feats)
    if e.segment != "all":
        keep &= segment == e.segment
    if goal.objective == "reactivations":
        keep &= segment.isin(["lapsing", "lapsed"])
    if e.countries:
        countries = store.read_sql(
            schema.customers.select().with_only_columns(schema.customers.c.customer_id, schema.customers.c.country)
        )
        allowed = set(countries.loc[countries["country"].isin(e.countries), "customer_id"].astype(str))
        keep &= feats.index.isin(list(allowed))
    if goal.frequency.min_days_between > 0:
        recent = _recently_messaged(store, as_of - dt.timedelta(days=goal.frequency.min_days_between))
        keep &= ~feats.index.isin(list(recent))
    return feats[keep]


def segment_of(feats: pd.DataFrame) -> pd.Series:
    """Lifecycle by recency: new (< 30 days' tenure), active (ordered or visited in 90 days), lapsing
    (last order 90-365 days ago), lapsed (longer, or never)."""
    since_order, since_visit = feats["days_since_order"], feats["days_since_visit"]
    seg = np.where(
        feats["tenure_days"] < 30,
        "new",
        np.where((since_order < 90) | (since_visit < 30), "active", np.where(since_order < 365, "lapsing", "lapsed")),
    )
    return pd.Series(seg, index=feats.index)


def _recently_messaged(store: Store, since: dt.datetime) -> set[str]:
    s = schema.sends
    rows = store.read_sql(
        s.select().with_only_columns(s.c.customer_id).where(s.c.is_holdout.is_(False), s.c.sent_at >= since)
    )
    return set(rows["customer_id"].astype(str))


def fit_response_model(
    store: Store, history: RandomisedHistory, learner: str = "t_learner", random_state: int = 0
) -> OfferResponseModel:
    feats = customer_features(store, as_of=history.sent_at)
    rows = history.rows[history.rows["customer_id"].isin(feats.index)]
    if len(rows) < len(history.rows):
        log.info("%d history rows have no customer in the store; ignored", len(history.rows) - len(rows))
    X = feats.loc[rows["customer_id"], list(FEATURES)].to_numpy()
    channels = {parse_arm(a)[0] for a in history.arms}
    reachable = {c: feats.loc[rows["customer_id"], f"{c}_ok"].to_numpy() > 0 for c in channels if f"{c}_ok" in feats}
    return OfferResponseModel(learner=learner, random_state=random_state).fit(
        X,
        rows["arm"].to_numpy(),
        rows["converted"].to_numpy(),
        rows["opened"].to_numpy(),
        rows["clicked"].to_numpy(),
        reachable=reachable,
    )


def candidate_days(goal: Goal, now: dt.datetime) -> list[dt.date]:
    first = goal.start or (now + dt.timedelta(days=1)).date()
    last = goal.end or first
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    return days[:14]


def plan_campaign(
    store: Store,
    goal: Goal,
    *,
    history: RandomisedHistory | None = None,
    model: OfferResponseModel | None = None,
    learner: str = "t_learner",
    n_boot: int = 200,
    random_state: int = 0,
    now: dt.datetime | None = None,
    send_hour: int = 9,
) -> PlanResult:
    """Plan a campaign for ``goal`` on ``store``; nothing is written (see :func:`save_plan`)."""
    history = history or read_history(store)
    if history is None:
        raise InputError(
            "history: the store has no randomised campaign history (sends with a holdout) to learn uplift from",
            field="history",
            hint="Run a first campaign with a holdout, or on a simulated store pass --sim DIR "
            "to run an exploration round in the simulator.",
        )
    model = model or fit_response_model(store, history, learner, random_state)
    now = now or store_now(store)
    feats = eligible_features(store, goal, now)
    if feats.empty:
        raise InputError(
            "eligible: no customer matches the goal's eligibility rules",
            field="eligible",
            value=goal.eligible.model_dump(exclude_none=True),
            hint="Widen the segment or the recency limits.",
        )
    basket, cost = basket_and_cost(store, feats, as_of=now)
    X = feats[list(FEATURES)].to_numpy()
    clear = _clear_targets(store, goal, feats.index) if goal.objective == "clear_stock" else None
    best = None
    for day in candidate_days(goal, now):
        demand = demand_factor(store, day, history.sent_at.date(), goal.window_days)
        factor = demand.factor
        arms = predict_arms(
            model,
            X,
            feats,
            basket.to_numpy(),
            cost.to_numpy(),
            goal,
            factor,
            None if clear is None else clear["per_order"],
        )
        if not arms:
            raise InputError(
                f"discounts/channels: the history has no randomised data for any of the goal's offers "
                f"({', '.join(goal.channels)} x {goal.discounts})",
                field="discounts",
                hint=f"Offers with history: {', '.join(model.arms_)}.",
            )
        choice, best_any, reason = choose(arms, goal.objective, goal.budget)
        if clear is not None:
            choice, reason = _cap_units(arms, choice, reason, clear["units_to_move"])
        total = sum(float(a.score(goal.objective)[choice == k].sum()) for k, a in enumerate(arms))
        if best is None or total > best[0] + 1e-9:
            best = (total, day, demand, arms, choice, best_any, reason)
    _, day, demand, arms, choice, best_any, reason = best
    factor = demand.factor
    send_at = dt.datetime.combine(day, dt.time(send_hour))

    decisions = _decisions(feats.index, arms, choice, best_any, reason)
    rng = np.random.default_rng(random_state)
    keys = sorted({key for a in arms for key, _ in a.components})
    draws = {key: model.calibration_draws(key, n_boot, rng) for key in keys}
    groups, audience, totals = _groups(decisions, arms, basket.to_numpy(), cost.to_numpy(), draws, goal, rng)
    used = sorted({a for a in audience["variant"].unique()})
    by_arm = {a.arm: a for a in arms}
    variants = [
        Variant(
            name=v,
            offer=Offer(
                discount=by_arm[v].discount,
                code_prefix=f"ML{round(by_arm[v].discount * 100)}" if by_arm[v].discount else None,
            ),
            channel=by_arm[v].channel,
        )
        for v in used
    ]
    campaign_id = f"cmp-{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    facts = {
        "learner": learner,
        "history_campaigns": history.campaigns,
        "history_customers": int(len(history.rows)),
        "calendar_factor": round(factor, 3),
        "demand_forecast": demand.to_dict(),
        "send_day": day.isoformat(),
        "eligible": int(len(feats)),
        "arms": [a.arm for a in arms],
    }
    plan = CampaignPlan(
        campaign_id=campaign_id,
        name=goal.name,
        objective=goal.objective,
        created_at=utcnow(),
        send_at=send_at,
        window_days=goal.window_days,
        holdout_fraction=goal.holdout_fraction,
        variants=variants or [Variant(name="none")],
        groups=groups,
        predictions=totals,
    )
    if clear is not None:
        included = choice >= 0
        units = sum(float(a.incremental_units[(choice == k) & included].sum()) for k, a in enumerate(arms))
        facts["clear_stock"] = {
            "products": len(clear["product_ids"]),
            "units_to_move": round(clear["units_to_move"], 1),
            "predicted_units": round(units * (1.0 - goal.holdout_fraction), 1),
        }
    plan.rationale = TemplateRationaleWriter().write(plan, goal, facts)
    if len(audience):
        audience["products_json"] = products_json(
            store,
            audience["customer_id"],
            window_days=goal.window_days,
            only=None if clear is None else clear["product_ids"],
        )
    audience.insert(0, "campaign_id", campaign_id)
    return PlanResult(plan=plan, goal=goal, audience=audience, decisions=decisions, facts=facts)


def _clear_targets(store: Store, goal: Goal, customers: pd.Index) -> dict:
    """The overstocked products a clear-stock goal sells down, the units to move, and each customer's
    units of them per order."""
    from marketloop.forecast.baseline import units_per_order
    from marketloop.forecast.inventory import overstocked

    scope = goal.clear
    targets = overstocked(store, categories=scope.categories or None, product_ids=scope.product_ids or None)
    if targets.empty:
        raise InputError(
            "clear: no overstocked product in the goal's categories / products (or no stock cover yet)",
            field="clear",
            value=scope.model_dump(),
            hint="Run `marketloop forecast train` to compute stock cover, then list categories with overstock "
            "(marketloop forecast stock --risk overstock).",
        )
    ids = targets["product_id"].tolist()
    return {
        "product_ids": ids,
        "units_to_move": float(targets["overstock_units"].sum()),
        "per_order": units_per_order(store, customers, ids),
    }


def _cap_units(
    arms: list[ArmPrediction], choice: np.ndarray, reason: np.ndarray, units_to_move: float
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the customers with the most extra units per unit of spend until the predicted extra units
    reach the units to move; the rest are left out ('stock_cleared')."""
    rows = np.arange(len(choice))
    units = np.array([arms[k].incremental_units[i] if k >= 0 else 0.0 for i, k in zip(rows, choice, strict=True)])
    spend = np.array([arms[k].spend[i] if k >= 0 else 0.0 for i, k in zip(rows, choice, strict=True)])
    order = np.argsort(-(units / np.maximum(spend, 1e-6)), kind="mergesort")
    cum = np.cumsum(np.where(choice[order] >= 0, units[order], 0.0))
    over = order[(cum - units[order] >= units_to_move) & (choice[order] >= 0)]
    choice, reason = choice.copy(), reason.copy()
    choice[over] = -1
    reason[over] = "stock_cleared"
    return choice, reason


def _decisions(
    index: pd.Index, arms: list[ArmPrediction], choice: np.ndarray, best_any: np.ndarray, reason: np.ndarray
) -> pd.DataFrame:
    n = len(index)
    pick = np.where(choice >= 0, choice, best_any)
    rows = np.arange(n)
    tau = np.stack([a.tau for a in arms])[pick, rows]
    profit = np.stack([a.incremental_profit for a in arms])[pick, rows]
    best_tau = np.stack([np.where(a.allowed, a.tau, -np.inf) for a in arms]).max(axis=0)
    best_tau = np.where(np.isinf(best_tau), np.stack([a.tau for a in arms]).max(axis=0), best_tau)
    plain = arms[0].tau  # the first channel's smallest offer: does the message itself help or hurt?
    p0 = arms[0].p0
    positive = best_tau[best_tau > 0]
    tau_cut = np.median(positive) if len(positive) else 0.0
    # put off: the plain message costs more than a tenth of their own purchases (and half a point at least);
    # would buy anyway: buying is far likelier than being moved (5x the best uplift) and above the median.
    put_off = plain < -np.maximum(0.005, 0.1 * p0)
    anyway = (p0 >= 5 * np.maximum(best_tau, 0.002)) & (p0 >= np.median(p0))
    kind = np.where(
        put_off, "put_off", np.where(anyway, "buy_anyway", np.where(best_tau >= tau_cut, "persuadable", "low_response"))
    )
    return pd.DataFrame(
        {
            "customer_id": index.astype(str),
            "kind": kind,
            "arm_index": pick,
            "included": choice >= 0,
            "arm": [arms[k].arm if c >= 0 else "" for k, c in zip(pick, choice, strict=True)],
            "reason": reason,
            "p0": p0,
            "predicted_uplift": tau,
            "predicted_profit": profit,
        }
    )


def _groups(
    decisions: pd.DataFrame,
    arms: list[ArmPrediction],
    basket: np.ndarray,
    cost: np.ndarray,
    draws: dict,
    goal: Goal,
    rng: np.random.Generator,
) -> tuple[list[GroupPlan], pd.DataFrame, dict]:
    groups: list[GroupPlan] = []
    audience_parts = []
    included_mask = decisions["included"].to_numpy()
    keys = decisions.groupby(["kind", "included", "arm_index", "reason"], sort=False).indices
    order = sorted(keys, key=lambda k: (not k[1], list(KIND_LABELS).index(k[0]), k[2], k[3]))
    send_share = 1.0 - goal.holdout_fraction
    for kind, included, k, why in order:
        idx = keys[(kind, included, k, why)]
        arm = arms[k]
        # nobody can be sent a message without consent: no "if sent" predictions for them
        preds = (
            {}
            if why == "no_consent"
            else group_predictions(arm, idx, basket, cost, draws, rng, send_share if included else 1.0)
        )
        label = f"{KIND_LABELS[kind]} · " + (_arm_label(arm) if included else f"left out ({why.replace('_', ' ')})")
        alternatives = {a.arm: float(a.incremental_profit[idx].mean()) for a in arms}
        groups.append(
            GroupPlan(
                group=label,
                included=bool(included),
                customers=len(idx),
                variant=arm.arm if included else None,
                reason=group_reason(
                    KIND_LABELS[kind], bool(included), why, arm, preds, len(idx), alternatives, goal.objective
                ),
                predictions=preds,
            )
        )
        if included:
            part = decisions.iloc[idx]
            audience_parts.append(
                pd.DataFrame(
                    {
                        "customer_id": part["customer_id"].to_numpy(),
                        "group_name": label[:128],
                        "variant": arm.arm,
                        "channel": arm.channel,
                        "discount": arm.discount,
                        "predicted_uplift": part["predicted_uplift"].to_numpy(),
                        "predicted_profit": part["predicted_profit"].to_numpy(),
                        "products_json": None,
                    }
                )
            )
    audience = (
        pd.concat(audience_parts, ignore_index=True)
        if audience_parts
        else pd.DataFrame(
            columns=[
                "customer_id",
                "group_name",
                "variant",
                "channel",
                "discount",
                "predicted_uplift",
                "predicted_profit",
                "products_json",
            ]
        )
    )
    from marketloop.strategy.intervals import total_predictions

    totals = total_predictions(arms, decisions, included_mask, basket, cost, draws, rng, send_share)
    return groups, audience, totals


def _arm_label(arm: ArmPrediction) -> str:
    offer = f"{round(arm.discount * 100)} % off" if arm.discount else "no discount"
    return f"{arm.channel}, {offer}"
