"""How simulated customers respond to a message: the ground truth behind every campaign figure.

For a message (channel, optional discount, products shown, send time) sent at day ``t0`` and a
response window of ``W`` days (default 14), for customer ``i``:

- untreated visit and purchase probabilities come from the same process that wrote the history:
  ``visits ~ Poisson(browse x sum_t activity(t) x demand(t))`` and purchases thin visits by
  ``cart_rate x checkout_rate``; so ``p0 = 1 - exp(-lambda_buy)``.
- the message reaches the customer only with a granted consent for the channel (``delivered``); it is
  opened with ``p_open`` (channel base rate, x1.25 on the preferred channel, lower for lapsed
  customers and at night in the customer's time zone) and clicked with ``ctr`` (higher when the
  products shown match the customer's category affinities, and with a discount).
- the effect depends on the hidden response type:
  persuadable: an opener is persuaded with ``pi = receptiveness x relevance x channel match x
  (1 + 0.8 x price_sensitivity x discount / 0.2)``; sure thing: a tiny ``pi`` (a discount only
  subsidises the purchase); lost cause: only a discount moves them, slightly; sleeping dog: a
  delivered message cancels a purchase with probability ``annoyance`` (x1.3 by SMS or at night) and
  unsubscribes them far more often.
  So ``p1 = p0 + (1 - p0) x p_open x pi`` (sleeping dogs: ``p1 = p0 x (1 - annoyance_eff)``).
- spend per buyer is the customer's ``basket_value`` (lognormal noise in draws), less the discount
  when the message was delivered; margin is spend minus cost (``cost_ratio`` of the undiscounted
  value); a send costs a little per channel.

:func:`expected` gives the exact probabilities and expected money (the oracle);
:func:`draw` samples outcomes with common random numbers keyed by (seed, customer, stream), so a
customer's draws do not depend on who else is in the call, and treated / untreated draws of the same
seed are coupled (a sure thing who buys untreated also buys treated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from marketloop.errors import InputError
from marketloop.sim.calendar import Calendar, base_demand
from marketloop.sim.population import MESSAGE_CHANNELS, Population, activity

OPEN_BASE = {"email": 0.32, "sms": 0.7, "push": 0.15}
CTR_BASE = 0.32
SEND_COST = {"email": 0.002, "sms": 0.04, "push": 0.0005}
UNSUB_CHANNEL = {"email": 1.0, "sms": 2.0, "push": 1.5}
DISCOUNT_PIVOT = 0.2
DISCOUNT_LIFT = 0.8  # persuadables: x(1 + 0.8 x price_sensitivity) at a 20 % discount
LOST_CAUSE_DISCOUNT = 0.25  # lost causes: pi = 0.25 x receptiveness x price_sensitivity at 20 %
SURE_THING_SHARE = 0.1
SPEND_SIGMA = 0.35
QUIET_HOURS = (22, 7)
TYPE_SURE, TYPE_PERSUADABLE, TYPE_LOST, TYPE_SLEEPING = 0, 1, 2, 3


@dataclass(frozen=True)
class Message:
    """A marketing message: channel, optional discount (a fraction, 0-0.5), products shown, send time.

    ``send_at`` is naive UTC; ``None`` means the morning after the generated window.
    """

    channel: str = "email"
    discount: float | None = None
    product_ids: tuple[str, ...] = ()
    send_at: datetime | None = None
    window_days: int = 14

    def __post_init__(self) -> None:
        if self.channel not in MESSAGE_CHANNELS:
            raise InputError(
                f"channel: expected one of {', '.join(MESSAGE_CHANNELS)}, got {self.channel!r}",
                field="channel",
                value=self.channel,
                hint="The simulator models e-mail, SMS and push messages.",
            )
        if self.discount is not None and not (0.0 <= float(self.discount) <= 0.5):
            raise InputError(
                f"discount: expected a fraction between 0 and 0.5 (or None), got {self.discount!r}",
                field="discount",
                value=self.discount,
                hint="Write 20 % off as discount=0.2.",
            )
        if not (1 <= int(self.window_days) <= 90):
            raise InputError(
                f"window_days: expected 1 to 90 days, got {self.window_days!r}",
                field="window_days",
                value=self.window_days,
                hint="Campaign effects are usually measured over 7-30 days.",
            )
        if self.send_at is not None and self.send_at.tzinfo is not None:
            raise InputError(
                f"send_at: expected a naive UTC datetime, got {self.send_at!r}",
                field="send_at",
                value=self.send_at,
                hint="Convert with dt.astimezone(timezone.utc).replace(tzinfo=None).",
            )
        object.__setattr__(self, "product_ids", tuple(self.product_ids))

    @property
    def discount_value(self) -> float:
        return float(self.discount or 0.0)


@dataclass
class Context:
    """What the response model needs besides the population."""

    calendar: Calendar
    start: datetime
    consent: np.ndarray  # customers x channels (email, sms, push): granted at the window end
    product_category: np.ndarray  # category index of each shown product


def _demand(ctx: Context, t: np.ndarray) -> np.ndarray:
    """Demand on (possibly future) days ``t`` (days from the window start)."""
    day = np.floor(t).astype(np.int64)
    out = base_demand([ctx.start.date() + timedelta(days=int(d)) for d in day])
    inside = (day >= 0) & (day < ctx.calendar.days)
    out[inside] = ctx.calendar.demand[day[inside]]
    return out


def expected(pop: Population, idx: np.ndarray, message: Message, ctx: Context) -> dict[str, np.ndarray]:
    """Exact probabilities and expected money for customers at positions ``idx``."""
    days = ctx.calendar.days
    send = message.send_at or (ctx.start + timedelta(days=days, hours=9))
    t0 = (send - ctx.start).total_seconds() / 86_400
    d = message.discount_value
    n = len(idx)
    grid = t0 + np.arange(message.window_days) + 0.5
    act = activity(grid[None, :], pop.signup_day[idx, None], pop.churn_day[idx, None])
    exposure = act @ _demand(ctx, grid)
    lam_visit = pop.browse_rate[idx] * exposure
    v0 = -np.expm1(-lam_visit)
    p0 = -np.expm1(-lam_visit * pop.cart_rate[idx] * pop.checkout_rate[idx])

    ch = MESSAGE_CHANNELS.index(message.channel)
    delivered = ctx.consent[idx, ch]
    now_act = activity(np.full(n, t0), pop.signup_day[idx], pop.churn_day[idx])
    local_hour = (send.hour + send.minute / 60 + pop.utc_offset_hours[idx]) % 24
    quiet = (local_hour >= QUIET_HOURS[0]) | (local_hour < QUIET_HOURS[1])
    match = pop.channel_preference[idx] == ch
    p_open = OPEN_BASE[message.channel] * np.where(match, 1.25, 0.8) * (0.3 + 0.7 * now_act) * np.where(quiet, 0.6, 1.0)
    p_open = np.where(delivered, np.clip(p_open, 0, 0.95), 0.0)

    if len(ctx.product_category):
        rel = pop.affinity[idx][:, ctx.product_category].mean(axis=1) * pop.affinity.shape[1]
        relevance = np.clip(0.5 + 0.5 * rel, 0.5, 2.0)
    else:
        relevance = np.ones(n)
    ps = pop.price_sensitivity[idx]
    disc_push = d / DISCOUNT_PIVOT
    ctr = np.clip(CTR_BASE * relevance * (1 + 0.5 * ps * disc_push), 0, 0.9)
    rtype = pop.response_type[idx]
    rho = pop.receptiveness[idx]
    pi = np.select(
        [rtype == TYPE_PERSUADABLE, rtype == TYPE_SURE, rtype == TYPE_LOST],
        [
            rho * relevance * np.where(match, 1.0, 0.6) * (1 + DISCOUNT_LIFT * ps * disc_push),
            SURE_THING_SHARE * rho * relevance,
            LOST_CAUSE_DISCOUNT * rho * ps * disc_push,
        ],
        0.0,
    )
    pi = np.clip(pi, 0, 0.95)
    sleeping = rtype == TYPE_SLEEPING
    annoy = np.where(
        delivered & sleeping,
        np.clip(pop.annoyance[idx] * (1.3 if message.channel == "sms" else 1.0) * np.where(quiet, 1.3, 1.0), 0, 1),
        0.0,
    )
    p1 = np.where(sleeping, p0 * (1 - annoy), p0 + (1 - p0) * p_open * pi)
    click_any = p_open * (pi + (1 - pi) * ctr)
    p_click = click_any
    visit_u = 1 - (1 - v0) * (1 - p0)
    visit_t = np.where(
        sleeping, 1 - (1 - v0) * (1 - p1) * (1 - p_open * ctr), 1 - (1 - v0) * (1 - p0) * (1 - click_any)
    )
    p_unsub = np.where(
        delivered,
        np.clip(pop.unsubscribe_propensity[idx] * UNSUB_CHANNEL[message.channel] * np.where(quiet, 1.5, 1.0), 0, 1),
        0.0,
    )

    basket = pop.basket_value[idx]
    cr = pop.cost_ratio[idx]
    paid = np.where(delivered, 1 - d, 1.0)
    cost = np.where(delivered, SEND_COST[message.channel], 0.0)
    rev_u = p0 * basket
    rev_t = p1 * basket * paid
    margin_u = p0 * basket * (1 - cr)
    margin_t = p1 * basket * (paid - cr)
    return {
        "delivered": delivered,
        "p_open": p_open,
        "p_click": p_click,
        "ctr": ctr,
        "persuasion": pi,
        "annoyance": annoy,
        "p_visit_untreated": visit_u,
        "p_visit_treated": visit_t,
        "p_visit_base": v0,
        "p_purchase_untreated": p0,
        "p_purchase_treated": p1,
        "uplift": p1 - p0,
        "p_unsubscribe": p_unsub,
        "expected_revenue_untreated": rev_u,
        "expected_revenue_treated": rev_t,
        "expected_incremental_revenue": rev_t - rev_u,
        "send_cost": cost,
        "expected_incremental_profit": margin_t - margin_u - cost,
        "paid_share": paid,
    }


def _uniform(seed: int, idx: np.ndarray, stream: int) -> np.ndarray:
    """Counter-based uniforms in [0, 1) keyed by (seed, customer position, stream) (SplitMix64).

    numpy's generators draw sequences, so a customer's numbers would depend on who else is in the
    call; hashing the key gives each customer the same numbers in any subset or order.
    """
    with np.errstate(over="ignore"):
        x = (
            (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15))
            ^ (idx.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9))
            ^ (np.uint64(stream) * np.uint64(0x94D049BB133111EB))
        )
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def draw(pop: Population, idx: np.ndarray, message: Message | None, ctx: Context, seed: int) -> dict[str, np.ndarray]:
    """Sampled outcomes over the response window; ``message=None`` gives the untreated outcomes."""
    e = expected(pop, idx, message or Message(), ctx)
    treated = message is not None
    u = {k: _uniform(seed, idx, k) for k in range(8)}
    buy0 = u[0] < e["p_purchase_untreated"]
    visit0 = (u[1] < e["p_visit_base"]) | buy0
    n = len(idx)
    if not treated:
        no = np.zeros(n, dtype=bool)
        delivered, opened, clicked, buy, unsub, visit, paid = no, no, no, buy0, no, visit0, np.ones(n)
    else:
        delivered = e["delivered"]
        opened = u[2] < e["p_open"]
        persuaded = u[3] < e["persuasion"]
        sleeping = pop.response_type[idx] == TYPE_SLEEPING
        clicked = opened & ((~sleeping & persuaded) | (u[4] < e["ctr"]))
        annoyed = u[3] < e["annoyance"]
        buy = np.where(sleeping, buy0 & ~annoyed, buy0 | (opened & persuaded))
        visit = visit0 | clicked | buy
        unsub = u[5] < e["p_unsubscribe"]
        paid = e["paid_share"]
    spend = pop.basket_value[idx] * np.exp(SPEND_SIGMA * _normal(u[6], u[7]) - SPEND_SIGMA**2 / 2)
    revenue = np.where(buy, spend * paid, 0.0)
    margin = np.where(buy, spend * (paid - pop.cost_ratio[idx]), 0.0)
    return {
        "delivered": delivered,
        "open": opened,
        "click": clicked,
        "visit": visit,
        "purchase": buy,
        "revenue": np.round(revenue, 2),
        "margin": np.round(margin, 2),
        "unsubscribe": unsub,
    }


def _normal(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Standard normal draws from two uniforms (Box-Muller), keeping the draws counter-based."""
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
