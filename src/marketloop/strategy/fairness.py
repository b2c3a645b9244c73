"""Fairness of a plan's offers across customer groups, and the guard that approval runs.

For each attribute the store declares sensitive (setting ``fairness_attributes``: columns of ``customers``
such as country or language, and ``age_band``, derived from ``birth_year``), the report gives per group:

- **offer rate**: the share of the group's customers who get an offer in the plan;
- **discount depth**: the mean discount of those offered;
- **predicted benefit**: the mean predicted incremental purchase probability of those offered (the planner's
  uplift), i.e. whom the plan expects to help;

and for each of the three the *disparity ratio*: the lowest group's value divided by the highest's (the
"four-fifths rule" of adverse-impact analysis uses 0.8 for selection rates; ``fairness_min_ratio``). Groups
smaller than ``fairness_min_group`` (customers for the offer rate, offered customers for the others) are
shown but not judged, and so is a metric whose highest value is not positive. Customers with no value for
an attribute form the group ``unknown``, which is shown but not judged either.

:class:`FairnessGuard` is what approval calls: ``off`` does nothing, ``flag`` lets the approval through with
the report's violations (the caller raises an alert), ``block`` refuses it with :class:`FairnessBlocked`
(409) naming each violation. The population is every non-guest customer of the store, so the report says
how the plan's offers fall on the store's customers; the same function takes any offers frame (a flow's).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from marketloop.errors import ConflictError, InputError
from marketloop.store import schema

METRICS = ("offer_rate", "discount_depth", "predicted_benefit")
AGE_BANDS = (
    (0, 25, "under 25"),
    (25, 35, "25-34"),
    (35, 45, "35-44"),
    (45, 55, "45-54"),
    (55, 65, "55-64"),
    (65, 200, "65+"),
)
UNKNOWN = "unknown"


def age_band(birth_year: pd.Series, year: int) -> pd.Series:
    age = year - pd.to_numeric(birth_year, errors="coerce")
    out = pd.Series(UNKNOWN, index=birth_year.index, dtype=object)
    for low, high, name in AGE_BANDS:
        out[(age >= low) & (age < high)] = name
    return out


def customer_attributes(store: Any, attributes: list[str], *, year: int) -> pd.DataFrame:
    """One row per non-guest customer (index ``customer_id``) with each attribute's group."""
    c = schema.customers
    columns = {a for a in attributes if a != "age_band"}
    unknown = sorted(columns - set(c.c.keys()) - {"age_band"})
    blocked = sorted(columns & {"customer_id", "email_hash", "phone_hash", "first_name"})
    if unknown or blocked:
        raise InputError(
            f"fairness_attributes: {', '.join(unknown + blocked)} cannot group customers",
            field="fairness_attributes",
            value=attributes,
            hint="Use age_band or columns of customers such as country, language, city, time_zone.",
        )
    cols = [c.c.customer_id, *(c.c[a] for a in sorted(columns))]
    if "age_band" in attributes:
        cols.append(c.c.birth_year)
    frame = store.read_sql(sa.select(*cols).where(sa.or_(c.c.is_guest.is_(False), c.c.is_guest.is_(None))))
    frame = frame.set_index(frame["customer_id"].astype(str)).drop(columns="customer_id")
    if "age_band" in attributes:
        frame["age_band"] = age_band(frame.pop("birth_year"), year)
    for a in columns:
        frame[a] = frame[a].where(frame[a].notna() & (frame[a].astype(str).str.strip() != ""), UNKNOWN).astype(str)
    return frame[attributes]


@dataclass
class Violation:
    attribute: str
    metric: str
    group: str
    value: float
    best_group: str
    best_value: float
    ratio: float

    def text(self) -> str:
        return (
            f"{self.attribute} {self.group!r}: {self.metric.replace('_', ' ')} {self.value:.3g} is "
            f"{self.ratio:.0%} of {self.best_group!r}'s {self.best_value:.3g}"
        )


@dataclass
class FairnessReport:
    subject: str
    min_ratio: float
    min_group: int
    attributes: dict[str, dict] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    @property
    def fair(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "fair": self.fair,
            "min_ratio": self.min_ratio,
            "min_group": self.min_group,
            "attributes": self.attributes,
            "violations": [asdict(v) | {"message": v.text()} for v in self.violations],
        }


def _clean(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def fairness_report(
    groups: pd.DataFrame,
    offers: pd.DataFrame,
    *,
    subject: str,
    min_ratio: float = 0.8,
    min_group: int = 30,
) -> FairnessReport:
    """The report for ``offers`` (customer_id, discount, predicted_uplift) over the population ``groups``
    (index customer_id, one column per attribute)."""
    report = FairnessReport(subject, min_ratio, min_group)
    offers = offers.drop_duplicates("customer_id").set_index(offers["customer_id"].drop_duplicates().astype(str))
    offered = groups.index.isin(offers.index)
    discount = offers["discount"].reindex(groups.index).astype(float)
    benefit = (
        offers["predicted_uplift"].reindex(groups.index).astype(float)
        if "predicted_uplift" in offers
        else pd.Series(np.nan, index=groups.index)
    )
    for attribute in groups.columns:
        rows = []
        for name, idx in groups.groupby(attribute).groups.items():
            mask = groups.index.isin(idx)
            n, k = int(mask.sum()), int((mask & offered).sum())
            rows.append(
                {
                    "group": str(name),
                    "customers": n,
                    "offered": k,
                    "offer_rate": k / n if n else float("nan"),
                    "discount_depth": float(discount[mask & offered].mean()) if k else float("nan"),
                    "predicted_benefit": float(benefit[mask & offered].mean()) if k else float("nan"),
                }
            )
        table = pd.DataFrame(rows).sort_values("customers", ascending=False)
        ratios: dict[str, float | None] = {}
        for metric in METRICS:
            size = table["customers"] if metric == "offer_rate" else table["offered"]
            judged = table[(size >= min_group) & (table["group"] != UNKNOWN) & table[metric].notna()]
            table[f"{metric}_ratio"] = np.nan
            if len(judged) < 2 or judged[metric].max() <= 0:
                ratios[metric] = None
                continue
            best = judged.loc[judged[metric].idxmax()]
            table.loc[judged.index, f"{metric}_ratio"] = judged[metric] / best[metric]
            ratios[metric] = float(judged[metric].min() / best[metric])
            for _, r in judged.iterrows():
                ratio = r[metric] / best[metric]
                if ratio < min_ratio:
                    report.violations.append(
                        Violation(
                            attribute,
                            metric,
                            r["group"],
                            float(r[metric]),
                            best["group"],
                            float(best[metric]),
                            float(ratio),
                        )
                    )
        report.attributes[attribute] = {
            "disparity_ratios": {m: _clean(v) if v is not None else None for m, v in ratios.items()},
            "groups": [
                {k: (_clean(v) if isinstance(v, float) else v) for k, v in r.items()} for r in table.to_dict("records")
            ],
        }
    return report


def plan_offers(store: Any, campaign_id: str) -> pd.DataFrame:
    from marketloop.store.campaigns import load_audience

    frame = load_audience(store, campaign_id)[["customer_id", "discount", "predicted_uplift"]]
    return frame.assign(customer_id=frame["customer_id"].astype(str))


def plan_fairness(
    store: Any,
    campaign_id: str,
    *,
    attributes: list[str],
    min_ratio: float = 0.8,
    min_group: int = 30,
    year: int | None = None,
) -> FairnessReport:
    """The fairness report of a stored plan (``campaign_audience``) over the store's customers."""
    from marketloop.clock import utcnow

    groups = customer_attributes(store, attributes, year=year or utcnow().year)
    return fairness_report(
        groups,
        plan_offers(store, campaign_id),
        subject=f"campaign:{campaign_id}",
        min_ratio=min_ratio,
        min_group=min_group,
    )


class FairnessBlocked(ConflictError):  # noqa: N818 - names the outcome ("the approval is blocked"), like LockHeld
    """A plan over the fairness threshold under ``fairness_guard = "block"``."""

    def __init__(self, report: FairnessReport) -> None:
        self.report = report
        lines = "; ".join(v.text() for v in report.violations[:5])
        more = f" (and {len(report.violations) - 5} more)" if len(report.violations) > 5 else ""
        super().__init__(
            f"{report.subject} was not approved: its offers fall unevenly across customer groups "
            f"(ratios under {report.min_ratio:g}): {lines}{more}",
            hint="Read the fairness report (marketloop campaign fairness ID), widen or rebalance the plan's "
            "audience, or change fairness_guard / fairness_min_ratio if the difference is intended.",
        )


@dataclass
class FairnessGuard:
    """Run at approval: ``mode`` off, flag or block (see the module docstring)."""

    mode: str = "flag"
    attributes: list[str] = field(default_factory=lambda: ["country", "age_band"])
    min_ratio: float = 0.8
    min_group: int = 30

    @classmethod
    def from_settings(cls, settings: Any) -> FairnessGuard:
        return cls(
            settings.fairness_guard,
            list(settings.fairness_attributes),
            settings.fairness_min_ratio,
            settings.fairness_min_group,
        )

    def check(self, store: Any, campaign_id: str, *, now: dt.datetime | None = None) -> FairnessReport | None:
        if self.mode == "off":
            return None
        report = plan_fairness(
            store,
            campaign_id,
            attributes=self.attributes,
            min_ratio=self.min_ratio,
            min_group=self.min_group,
            year=now.year if now else None,
        )
        if self.mode == "block" and not report.fair:
            raise FairnessBlocked(report)
        return report
