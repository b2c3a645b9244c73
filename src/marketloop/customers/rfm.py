"""RFM scores and named segments.

Each customer gets a recency, a frequency and a monetary score from 1 (worst) to ``n_bins`` (best),
from quantiles of the customer population (ties share a score). The segment is looked up in a grid of
the recency score against the "FM" score (the rounded mean of the frequency and monetary scores).
The default grid is the widely used eleven-segment RFM map; every rule can be replaced from a TOML
file (see docs/customers.md), and the first matching rule wins.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from marketloop.customers.transactions import daily_purchases
from marketloop.errors import ConfigError, NotFoundError

SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
    "Lost",
)


@dataclass(frozen=True)
class SegmentRule:
    """A named segment: inclusive ranges of the recency score and of the FM score."""

    name: str
    r: tuple[int, int]
    fm: tuple[int, int]

    def matches(self, r: np.ndarray, fm: np.ndarray) -> np.ndarray:
        return (r >= self.r[0]) & (r <= self.r[1]) & (fm >= self.fm[0]) & (fm <= self.fm[1])


#: The default grid (5 score levels). It covers all 25 (R, FM) cells exactly once.
DEFAULT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", (5, 5), (4, 5)),
    SegmentRule("Loyal", (3, 4), (4, 5)),
    SegmentRule("Potential loyalists", (4, 5), (2, 3)),
    SegmentRule("New", (5, 5), (1, 1)),
    SegmentRule("Promising", (4, 4), (1, 1)),
    SegmentRule("Need attention", (3, 3), (3, 3)),
    SegmentRule("About to sleep", (3, 3), (1, 2)),
    SegmentRule("At risk", (1, 2), (3, 4)),
    SegmentRule("Can't lose them", (1, 2), (5, 5)),
    SegmentRule("Hibernating", (2, 2), (1, 2)),
    SegmentRule("Lost", (1, 1), (1, 2)),
)

UNMATCHED = "Other"

#: Risk level of each segment as the usual RFM playbooks rank them (used by the rule baseline of
#: `marketloop eval churn`; a ranking, not a calibrated probability).
SEGMENT_RISK = {
    "Champions": 0.05,
    "Loyal": 0.15,
    "Potential loyalists": 0.25,
    "New": 0.35,
    "Promising": 0.4,
    "Need attention": 0.5,
    "About to sleep": 0.6,
    "Can't lose them": 0.65,
    "At risk": 0.7,
    "Hibernating": 0.8,
    "Lost": 0.9,
}


@dataclass(frozen=True)
class RFMConfig:
    """How scores are cut and segments named."""

    n_bins: int = 5
    rules: tuple[SegmentRule, ...] = DEFAULT_RULES

    @classmethod
    def from_toml(cls, path: str | Path) -> RFMConfig:
        """Read ``n_bins`` and ``[[segment]]`` tables (``name``, ``r = [lo, hi]``, ``fm = [lo, hi]``)."""
        path = Path(path)
        if not path.exists():
            raise NotFoundError(f"RFM rules file {str(path)!r} does not exist", hint="Check the path.")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"RFM rules file {str(path)!r} is not valid TOML: {exc}") from None
        n_bins = data.get("n_bins", 5)
        if not isinstance(n_bins, int) or not 2 <= n_bins <= 10:
            raise ConfigError(f"n_bins in {str(path)!r} must be an integer from 2 to 10, got {n_bins!r}")
        rules = []
        for i, item in enumerate(data.get("segment", [])):
            try:
                name = str(item["name"])
                r = tuple(int(v) for v in item["r"])
                fm = tuple(int(v) for v in item["fm"])
                if len(r) != 2 or len(fm) != 2:
                    raise ValueError("r and fm need two numbers [low, high]")
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(
                    f"segment #{i + 1} in {str(path)!r} is invalid ({exc})",
                    hint='Write each rule as [[segment]] name = "Champions", r = [5, 5], fm = [4, 5].',
                ) from None
            rules.append(SegmentRule(name, r, fm))  # type: ignore[arg-type]
        if not rules:
            raise ConfigError(f"RFM rules file {str(path)!r} has no [[segment]] rules")
        return cls(n_bins=n_bins, rules=tuple(rules))


def quantile_score(values: pd.Series, n_bins: int, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1..n_bins from the percentile rank; equal values always get the same score."""
    if len(values) == 0:
        return np.zeros(0, dtype=int)
    pct = values.rank(method="average", pct=True, ascending=higher_is_better).to_numpy()
    return score_from_rank(pct, n_bins)


def score_from_rank(pct: np.ndarray, n_bins: int) -> np.ndarray:
    """Score 1..n_bins of a percentile rank in (0, 1] (average rank of ties over the population size)."""
    return np.clip(np.ceil(pct * n_bins), 1, n_bins).astype(int)


def rfm_table(tx: pd.DataFrame, as_of: dt.date, config: RFMConfig | None = None) -> pd.DataFrame:
    """One row per customer with a purchase up to ``as_of``: facts, R/F/M scores and segment.

    Columns: customer_id, first_order_at, last_order_at, orders, returns, revenue (net of returns),
    recency_days, frequency (purchase days), r_score, f_score, m_score, fm_score, segment.
    """
    return score_rfm(rfm_facts(tx, as_of), config)


def rfm_facts(tx: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The per-customer facts of :func:`rfm_table` without the scores (index: customer_id): every value
    depends on the customer's own orders alone, so a distributed engine computes them per partition."""
    end = pd.Timestamp(as_of + dt.timedelta(days=1))
    known = tx[tx["customer_id"].notna() & (tx["ts"] < end)]
    daily = daily_purchases(known)
    grouped = daily.groupby("customer_id", sort=True, observed=True)
    facts = _ids(
        pd.DataFrame(
            {
                "frequency": grouped["day"].size(),
                "orders": grouped["orders"].sum(),
                "gross": grouped["amount"].sum(),
            }
        )
    )
    returns = _ids(
        known[known["is_return"]]
        .groupby("customer_id", observed=True)
        .agg(returns=("amount", "size"), refunds=("amount", "sum"))
    )
    facts = facts.join(returns, how="left").fillna({"returns": 0, "refunds": 0.0})
    facts["revenue"] = facts["gross"] + facts["refunds"]  # refunds are negative
    bought = known[~known["is_return"]].groupby("customer_id", observed=True)["ts"]
    facts["last_order_at"] = _ids(bought.max()).reindex(facts.index)
    facts["first_order_at"] = _ids(bought.min()).reindex(facts.index)
    facts["recency_days"] = (pd.Timestamp(as_of) - facts["last_order_at"].dt.normalize()).dt.days.astype(int)
    facts = facts.drop(columns=["gross", "refunds"])
    facts["orders"] = facts["orders"].astype(int)
    facts["returns"] = facts["returns"].astype(int)
    return facts


def score_rfm(facts: pd.DataFrame, config: RFMConfig | None = None) -> pd.DataFrame:
    """Add the R, F, M and FM scores and the segment to :func:`rfm_facts` (population quantiles)."""
    config = config or RFMConfig()
    n = config.n_bins
    facts = facts.copy()
    facts["r_score"] = quantile_score(facts["recency_days"], n, higher_is_better=False)
    facts["f_score"] = quantile_score(facts["frequency"], n)
    facts["m_score"] = quantile_score(facts["revenue"], n)
    return segment_columns(facts, config).reset_index(names="customer_id")


def segment_columns(facts: pd.DataFrame, config: RFMConfig) -> pd.DataFrame:
    """``fm_score`` and ``segment`` from the R, F and M scores of ``facts`` (changed in place, returned)."""
    facts["fm_score"] = np.floor((facts["f_score"] + facts["m_score"]) / 2 + 0.5).astype(int)
    facts["segment"] = assign_segments(facts["r_score"].to_numpy(), facts["fm_score"].to_numpy(), config.rules)
    return facts


def _ids(frame):  # noqa: ANN001, ANN202 - Series or DataFrame
    return frame.set_axis(frame.index.astype(str))


def assign_segments(r: np.ndarray, fm: np.ndarray, rules: tuple[SegmentRule, ...] = DEFAULT_RULES) -> np.ndarray:
    """Segment names for score arrays; the first matching rule wins, else ``Other``."""
    out = np.full(len(r), UNMATCHED, dtype=object)
    free = np.ones(len(r), dtype=bool)
    for rule in rules:
        hit = free & rule.matches(r, fm)
        out[hit] = rule.name
        free &= ~hit
    return out


def segment_summary(profiles: pd.DataFrame) -> pd.DataFrame:
    """Size, share of customers, revenue share and mean value per segment (for `marketloop segments`)."""
    if profiles.empty:
        return pd.DataFrame(
            columns=[
                "segment",
                "customers",
                "share",
                "revenue",
                "revenue_share",
                "mean_revenue",
                "mean_clv",
                "churn_rate",
            ]
        )
    grouped = profiles.groupby("segment", sort=False)
    out = grouped.agg(
        customers=("customer_id", "size"),
        revenue=("revenue", "sum"),
        mean_revenue=("revenue", "mean"),
        mean_clv=("clv", "mean"),
        mean_churn=("churn_probability", "mean"),
    ).reset_index()
    total_revenue = float(profiles["revenue"].sum()) or math.nan
    out["share"] = out["customers"] / len(profiles)
    out["revenue_share"] = out["revenue"] / total_revenue
    order = {name: i for i, name in enumerate(SEGMENTS)}
    out["_o"] = out["segment"].map(order).fillna(len(order))
    return out.sort_values(["_o", "segment"]).drop(columns="_o").reset_index(drop=True)
