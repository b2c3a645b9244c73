"""The synthetic customers: public details plus the hidden traits that drive everything they do.

Hidden traits (written only to ``truth/customers.parquet``):

- ``signup_day`` / ``churn_day``: days from the window start. Before signup a customer is absent;
  activity is full until 60 days before churn, then fades linearly to 10 %; after churn a residual 2 %
  remains (win-back is possible but rare). Lifetimes are exponential with a customer-specific mean,
  i.e. a constant churn hazard per customer, heterogeneous across customers.
- ``browse_rate`` (sessions per day when fully active), ``cart_rate`` (P(add to cart | session)),
  ``checkout_rate`` (P(buy | cart)); so purchases per day = browse x cart x checkout x activity x demand.
- ``affinity_<category>`` (Dirichlet), ``price_sensitivity`` (Beta), ``basket_value``,
  ``channel_preference`` (email / sms / push), ``app_user``.
- ``response_type`` (sure_thing, persuadable, lost_cause, sleeping_dog) drawn from probabilities that
  depend on the traits above, so that history carries a weak signal about it; ``receptiveness`` and
  ``annoyance`` size the effect of a message (see :mod:`marketloop.sim.response`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from marketloop.sim import text
from marketloop.sim.tables import prefixed_ids, take_strings, to_table

STAGES = ("new", "active", "at_risk", "churned")
RESPONSE_TYPES = ("sure_thing", "persuadable", "lost_cause", "sleeping_dog")
MESSAGE_CHANNELS = ("email", "sms", "push")

PRE_WINDOW_SHARE = 0.6  # customers who signed up before the window
PRE_WINDOW_DAYS = 730
FADE_DAYS = 60.0
FADE_FLOOR = 0.1
RESIDUAL = 0.02
NEW_DAYS = 30
MEAN_LIFETIME_DAYS = 1000.0
BROWSE_MEDIAN = 0.010  # sessions per day
BROWSE_SIGMA = 0.9
CART_BETA = (2.0, 6.0)
CHECKOUT_BETA = (1.8, 7.7)
BASKET_MEDIAN = 100.0
RECEPTIVENESS_MEAN = 0.10  # P(persuaded | opened) for a persuadable at full relevance, no discount


def activity(t: np.ndarray, signup: np.ndarray, churn: np.ndarray) -> np.ndarray:
    """Activity factor in [0, 1] at day ``t`` (broadcasts: e.g. customers x days)."""
    fading = FADE_FLOOR + (1 - FADE_FLOOR) * (churn - t) / FADE_DAYS
    a = np.where(t < churn - FADE_DAYS, 1.0, fading)
    a = np.where(t >= churn, RESIDUAL, a)
    return np.where(t < signup, 0.0, a)


@dataclass
class Population:
    """Hidden traits of every customer, as arrays indexed by customer position."""

    signup_day: np.ndarray
    churn_day: np.ndarray
    browse_rate: np.ndarray
    cart_rate: np.ndarray
    checkout_rate: np.ndarray
    price_sensitivity: np.ndarray
    basket_value: np.ndarray
    cost_ratio: np.ndarray
    channel_preference: np.ndarray  # index into MESSAGE_CHANNELS
    app_user: np.ndarray
    place: np.ndarray  # index into text.PLACES
    utc_offset_hours: np.ndarray
    response_type: np.ndarray  # index into RESPONSE_TYPES
    receptiveness: np.ndarray
    annoyance: np.ndarray
    unsubscribe_propensity: np.ndarray
    stage: np.ndarray  # index into STAGES, at the end of the window
    affinity: np.ndarray  # customers x categories

    @property
    def size(self) -> int:
        return len(self.signup_day)

    def purchase_rate(self) -> np.ndarray:
        """Purchases per day at full activity and average demand."""
        return self.browse_rate * self.cart_rate * self.checkout_rate

    def truth_frame(self, customer_ids: pa.Array, category_slugs: list[str], days: int) -> pd.DataFrame:
        """The truth table: one row per customer with every hidden trait, readable labels included."""
        end_activity = activity(np.full(self.size, float(days)), self.signup_day, self.churn_day)
        frame = pd.DataFrame(
            {
                "customer_id": customer_ids.to_pandas(),
                "lifecycle_stage": np.array(STAGES)[self.stage],
                "response_type": np.array(RESPONSE_TYPES)[self.response_type],
                "top_category": np.array(category_slugs)[self.affinity.argmax(axis=1)],
                "price_sensitivity": self.price_sensitivity,
                "channel_preference": np.array(MESSAGE_CHANNELS)[self.channel_preference],
                "baseline_purchase_rate": self.purchase_rate() * end_activity,
            }
        )
        for f in fields(self):
            if f.name in ("affinity", "response_type", "stage", "channel_preference", "price_sensitivity"):
                continue
            frame[f.name] = getattr(self, f.name)
        for j, slug in enumerate(category_slugs):
            frame[f"affinity_{slug}"] = self.affinity[:, j]
        return frame

    @classmethod
    def from_truth(cls, table: pa.Table, category_slugs: list[str]) -> Population:
        """Rebuild the arrays from the truth table (as written by :meth:`truth_frame`)."""
        labels = {
            "response_type": ("response_type", RESPONSE_TYPES),
            "stage": ("lifecycle_stage", STAGES),
            "channel_preference": ("channel_preference", MESSAGE_CHANNELS),
        }
        values = {}
        for f in fields(cls):
            if f.name == "affinity":
                values[f.name] = np.column_stack([table.column(f"affinity_{s}").to_numpy() for s in category_slugs])
            elif f.name in labels:
                column, names = labels[f.name]
                values[f.name] = pc.index_in(table.column(column), value_set=pa.array(names)).to_numpy().astype(np.int8)
            else:
                values[f.name] = table.column(f.name).to_numpy()
        return cls(**values)


def _softmax_draw(logits: np.ndarray, u: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return (u[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, logits.shape[1] - 1)


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / (sd if sd > 0 else 1.0)


def build_population(
    n: int, days: int, start: datetime, category_weights: np.ndarray, cost_ratios: np.ndarray, rng: np.random.Generator
) -> Population:
    """Draw ``n`` customers' hidden traits for a window of ``days`` days starting at ``start``."""
    pre = rng.random(n) < PRE_WINDOW_SHARE
    signup = np.where(pre, -rng.random(n) * PRE_WINDOW_DAYS, rng.random(n) * days)
    mean_life = MEAN_LIFETIME_DAYS * np.exp(0.6 * rng.standard_normal(n) - 0.18)
    churn = signup + rng.exponential(mean_life)

    browse = BROWSE_MEDIAN * np.exp(BROWSE_SIGMA * rng.standard_normal(n))
    cart = rng.beta(*CART_BETA, n)
    checkout = rng.beta(*CHECKOUT_BETA, n)
    price_sens = rng.beta(2.0, 2.5, n)
    k = len(category_weights)
    alpha = 0.35 * k * category_weights / category_weights.sum()
    affinity = rng.gamma(np.broadcast_to(alpha, (n, k)))
    affinity = affinity / np.maximum(affinity.sum(axis=1, keepdims=True), 1e-300)
    affinity = np.where(np.isfinite(affinity), affinity, 1.0 / k)
    basket = BASKET_MEDIAN * np.exp(0.35 * rng.standard_normal(n)) * (1.15 - 0.3 * price_sens)
    channel = rng.choice(3, size=n, p=[0.6, 0.15, 0.25]).astype(np.int8)
    app_user = rng.random(n) < np.where(channel == 2, 0.75, 0.25)
    place_w = np.array([p[4] for p in text.PLACES])
    place = rng.choice(len(text.PLACES), size=n, p=place_w / place_w.sum()).astype(np.int16)
    offsets = np.array([ZoneInfo(p[2]).utcoffset(start).total_seconds() / 3600 for p in text.PLACES])

    end = float(days)
    stage = np.where(
        churn <= end, 3, np.where(end - signup < NEW_DAYS, 0, np.where(churn - end < FADE_DAYS, 2, 1))
    ).astype(np.int8)

    # Response type: depends on traits a model can see traces of in the history (weak signal).
    tenure_years = np.clip((end - signup) / 365.0, 0, 3)
    z_rate = _z(np.log(browse * cart * checkout))
    z_cart = _z(np.log(cart / (1 - cart)))
    z_check = _z(np.log(checkout / (1 - checkout)))
    z_browse = _z(np.log(browse))
    logits = np.column_stack(
        [
            -1.3 + 1.2 * z_rate,
            -0.1 + 0.8 * z_cart - 0.7 * z_check + 0.6 * (stage == 0) + 0.4 * (stage == 2),
            0.1 - 0.5 * z_browse,
            -1.6 + 0.8 * tenure_years - 0.5 * z_browse,
        ]
    )
    churned_logits = np.log(np.array([[1e-6, 0.08, 0.84, 0.08]]))
    logits = np.where((stage == 3)[:, None], churned_logits, logits)
    rtype = _softmax_draw(logits, rng.random(n)).astype(np.int8)

    receptiveness = rng.gamma(2.0, RECEPTIVENESS_MEAN / 2.0, n)
    annoyance = rng.beta(3.0, 3.0, n)
    unsub = np.where(rtype == 3, rng.beta(1.5, 40.0, n), rng.beta(1.0, 800.0, n))

    return Population(
        signup_day=signup,
        churn_day=churn,
        browse_rate=browse,
        cart_rate=cart,
        checkout_rate=checkout,
        price_sensitivity=price_sens,
        basket_value=basket,
        cost_ratio=affinity @ cost_ratios,
        channel_preference=channel,
        app_user=app_user,
        place=place,
        utc_offset_hours=offsets[place],
        response_type=rtype,
        receptiveness=receptiveness,
        annoyance=annoyance,
        unsubscribe_propensity=unsub,
        stage=stage,
        affinity=affinity,
    )


def customer_id_width(n: int) -> int:
    return max(7, len(str(n)))


def customer_ids(n: int) -> pa.Array:
    """``C0000001`` .. for customer positions 0 .. n-1 (the id is position + 1)."""
    return prefixed_ids("C", np.arange(1, n + 1), customer_id_width(n))


def customers_table(pop: Population, ids: pa.Array, start: datetime, rng: np.random.Generator) -> pa.Table:
    """The public customers table (raw e-mail and phone; ingestion pseudonymises them)."""
    n = pop.size
    names = pa.array(text.FIRST_NAMES)
    name_idx = rng.integers(0, len(text.FIRST_NAMES), n)
    first = take_strings(names, name_idx)
    digits = pc.utf8_slice_codeunits(ids, 1)
    domain = take_strings(pa.array(text.EMAIL_DOMAINS), rng.integers(0, len(text.EMAIL_DOMAINS), n))
    email = pc.binary_join_element_wise(pc.utf8_lower(first), ".", digits, "@", domain, "")
    has_phone = rng.random(n) < 0.6
    phone = pc.if_else(
        pa.array(has_phone), prefixed_ids("+1555", rng.integers(0, 10_000_000, n), 7), pa.nulls(n, pa.string())
    )
    places = text.PLACES
    # birth years from their own stream, so adding them changed none of the other draws
    age_rng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    birth = np.clip(np.round(age_rng.normal(1985, 13, n)), 1940, 2007).astype("int64")
    birth_year = pa.array(birth, mask=age_rng.random(n) < 0.15)
    signup_us = np.datetime64(start, "us") + (pop.signup_day * 86_400e6).astype("timedelta64[us]")
    return to_table(
        "customers",
        {
            "customer_id": ids,
            "email": email,
            "phone": phone,
            "first_name": first,
            "country": take_strings(pa.array([p[0] for p in places]), pop.place),
            "city": take_strings(pa.array([p[1] for p in places]), pop.place),
            "time_zone": take_strings(pa.array([p[2] for p in places]), pop.place),
            "language": take_strings(pa.array([p[3] for p in places]), pop.place),
            "birth_year": birth_year,
            "signup_at": pa.array(signup_us, type=pa.timestamp("us")),
            "is_guest": np.zeros(n, dtype=bool),
        },
    )


def consents_table(pop: Population, ids: pa.Array, start: datetime, days: int, rng: np.random.Generator) -> pa.Table:
    """Consent per channel: most grant e-mail, fewer SMS / push; some revoke during the window."""
    n = pop.size
    grant_p = {
        "email": np.full(n, 0.88),
        "sms": np.where(pop.channel_preference == 1, 0.7, 0.25),
        "push": np.where(pop.app_user, 0.65, 0.05),
    }
    rows_c, rows_ch, rows_st, rows_ts = [], [], [], []
    base = np.datetime64(start, "us")
    for channel, p in grant_p.items():
        has = rng.random(n) < p
        revoke = has & (rng.random(n) < np.where(pop.stage == 3, 0.15, 0.06))
        revoke_day = pop.signup_day + rng.random(n) * np.maximum(days - pop.signup_day, 0)
        day = np.where(revoke, revoke_day, pop.signup_day)
        idx = np.flatnonzero(has)
        rows_c.append(idx)
        rows_ch.append(np.full(len(idx), channel))
        rows_st.append(np.where(revoke[idx], "revoked", "granted"))
        rows_ts.append(base + (day[idx] * 86_400e6).astype("timedelta64[us]"))
    order = np.concatenate(rows_c)
    return to_table(
        "consents",
        {
            "customer_id": take_strings(ids, order),
            "channel": np.concatenate(rows_ch).astype(object),
            "status": np.concatenate(rows_st).astype(object),
            "updated_at": pa.array(np.concatenate(rows_ts), type=pa.timestamp("us")),
        },
    )
