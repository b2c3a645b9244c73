"""Plain, deterministic rationale writing from the plan's numbers.

A small template writer of the strategy layer's own; the content layer's grounded template
provider can replace :class:`TemplateRationaleWriter` (same ``write(plan, goal, facts) -> str``)
once it is merged. Every sentence states a number the planner computed; nothing is invented.
"""

from __future__ import annotations

from typing import Protocol

from marketloop.store.campaigns import CampaignPlan, Interval
from marketloop.strategy.candidates import ArmPrediction
from marketloop.strategy.goal import Goal

OBJECTIVES = {
    "incremental_profit": "incremental profit",
    "incremental_revenue": "incremental revenue",
    "conversions": "incremental conversions",
    "reactivations": "reactivated customers",
    "clear_stock": "overstocked units sold",
}


class RationaleWriter(Protocol):
    def write(self, plan: CampaignPlan, goal: Goal, facts: dict) -> str: ...


def _money(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def _iv(iv: Interval, money: bool = False, digits: int = 0) -> str:
    fmt = _money if money else (lambda v: f"{v:,.{digits}f}")
    return f"{fmt(iv.mean)} ({int(iv.level * 100)} % interval {fmt(iv.low)} to {fmt(iv.high)})"


def group_reason(
    kind: str,
    included: bool,
    why: str,
    arm: ArmPrediction,
    preds: dict[str, Interval],
    n: int,
    alternatives: dict[str, float],
    objective: str,
) -> str:
    if why == "no_consent":
        return f"Left out ({kind}): no granted consent for any of the goal's channels; they cannot be contacted."
    per = preds["incremental_profit"].mean / max(n, 1)
    uplift_pts = 100 * preds["incremental_conversions"].mean / max(preds["reach"].mean, 1e-9)
    offer = f"{round(arm.discount * 100)} % off" if arm.discount else "no discount"
    if included:
        others = {a: v for a, v in alternatives.items() if a != arm.arm}
        runner = max(others.items(), key=lambda kv: kv[1]) if others else None
        text = (
            f"Included ({kind}): {arm.channel} with {offer} is predicted to add {uplift_pts:+.2f} points of purchase probability "
            f"and {_money(per)} incremental profit per customer; {_iv(preds['incremental_conversions'], digits=1)} extra orders in all."
        )
        if runner is not None:
            text += f" The next best offer ({runner[0]}) would make {_money(runner[1])} per customer."
        own = alternatives.get(arm.arm, per)
        if own < 0 or (runner is not None and runner[1] > own):
            text += (
                " By the point estimate that is not their best choice, but the difference is within the uncertainty of "
                "the estimate, so they keep the audience's offer."
            )
        return text
    if why == "not_allowed":
        return (
            f"Left out ({kind}): every offer breaks the margin floor or the maximum discount for them "
            f"(their cost ratio leaves no room); the best would make {_money(per)} per customer."
        )
    if why == "stock_cleared":
        return f"Left out ({kind}): the customers before them already move the units to clear, so contacting them would only cost discounts."
    if why == "budget":
        return f"Left out ({kind}): worth contacting ({_money(per)} per customer with {offer}), but the budget ran out on better groups first."
    if uplift_pts < 0:
        return (
            f"Left out ({kind}): contacting them is predicted to lower purchases ({uplift_pts:+.2f} points with {offer}); "
            f"the best offer would lose {_money(-per)} per customer."
        )
    target = OBJECTIVES.get(objective, objective)
    return (
        f"Left out ({kind}): even the best offer ({arm.channel}, {offer}) adds too little {target} to pay for itself: "
        f"{uplift_pts:+.2f} points, {_money(per)} incremental profit per customer."
    )


class TemplateRationaleWriter:
    """Writes the plan's rationale from its numbers (no model needed)."""

    def write(self, plan: CampaignPlan, goal: Goal, facts: dict) -> str:
        p = plan.predictions
        included = [g for g in plan.groups if g.included]
        left = [g for g in plan.groups if not g.included]
        no_consent = sum(g.customers for g in left if "no consent" in g.group)
        counts = plan.counts()
        parts = [
            f"Goal: maximise {OBJECTIVES[goal.objective]}"
            + (f" within a budget of {_money(goal.budget)}" if goal.budget else "")
            + (f", keeping a {goal.margin_floor:.0%} margin on discounted orders" if goal.margin_floor else "")
            + "."
        ]
        parts.append(
            f"Of {facts['eligible']:,} eligible customers the plan selects {counts.audience:,} and leaves out "
            f"{counts.left_out:,}: {counts.contacted:,} are contacted on {facts['send_day']} and {counts.holdout:,} "
            f"({goal.holdout_fraction:.0%}) are held out at random, never messaged, to measure the effect."
        )
        if included:
            parts.append(
                f"Predicted over {goal.window_days} days: {_iv(p['incremental_conversions'], digits=1)} incremental orders, "
                f"{_iv(p['incremental_revenue'], money=True)} incremental revenue and {_iv(p['incremental_profit'], money=True)} "
                f"incremental profit at a cost of {_money(p['cost'].mean)} in discounts and sends."
            )
        if counts.contacted_by_variant:
            parts.append(
                "Offers: "
                + ", ".join(
                    f"{v} to {n:,}" for v, n in sorted(counts.contacted_by_variant.items(), key=lambda kv: -kv[1])
                )
                + " contacted customers."
            )
        put_off = sum(g.customers for g in left if g.group.startswith("put off"))
        anyway = [g for g in plan.groups if g.group.startswith("would buy anyway")]
        if no_consent:
            parts.append(f"{no_consent:,} of those left out have no consent for {', '.join(goal.channels)}.")
        if put_off:
            parts.append(f"{put_off:,} customers are predicted to buy less if contacted and are left out.")
        if anyway:
            disc = sum(g.customers for g in anyway if g.included and g.variant and not g.variant.endswith("-0"))
            parts.append(
                f"Customers who would likely buy anyway ({sum(g.customers for g in anyway):,}) get "
                + ("no discount." if disc == 0 else f"a discount only where it pays ({disc:,}).")
            )
        cal = facts.get("calendar_factor", 1.0)
        if abs(cal - 1.0) >= 0.02:
            parts.append(
                f"The demand forecast (holidays, promotions, seasons and prices included) makes the send window "
                f"{cal:.2f}x as busy as the test the models learned from; baseline purchases were scaled accordingly."
            )
        clear = facts.get("clear_stock")
        if clear:
            parts.append(
                f"Stock to clear: {clear['units_to_move']:,.0f} units beyond expected demand in {clear['products']} products; "
                f"the plan is predicted to sell {clear['predicted_units']:,.0f} more of them than without it."
            )
        parts.append(
            f"Uplift was learned with a {facts['learner'].replace('_', '-')} on {facts['history_customers']:,} customers of a "
            f"randomised test ({', '.join(facts['history_campaigns'])})."
        )
        return " ".join(parts)
