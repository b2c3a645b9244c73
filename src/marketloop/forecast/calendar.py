"""The market environment as daily features: holidays, promotions, seasons and external series.

Everything comes from the store's ``calendar`` table (loaded like any other entity, e.g.
``marketloop ingest calendar.csv --entity calendar``), so the forecasts and the planner see the same
calendar:

- ``holiday``: 1 on a day with a holiday row (optionally also a country's public holidays from the
  ``holidays`` package, for stores that have not loaded their own);
- ``promotion``: the largest store-wide promotion discount that day (0.1 when a promotion row has no
  discount), 0 otherwise;
- ``event``: 1 on a day with an event row (a sale weekend, a TV spot);
- ``season``: the code of the day's season row (-1 when none);
- ``cov_<name>``: each external series (rows of kind ``covariate`` with a ``value``), carried forward
  from its last known value (a weekly index holds for the week) and backward before its first.

The store's own price changes are product features, not calendar ones (see :mod:`marketloop.forecast.data`).
"""

from __future__ import annotations

import re

import pandas as pd
import sqlalchemy as sa

from marketloop.errors import DependencyError, InputError
from marketloop.store import schema
from marketloop.store.engine import Store

#: Promotion discount assumed when a promotion row has none.
DEFAULT_PROMOTION_DISCOUNT = 0.1


def read_calendar(store: Store) -> pd.DataFrame:
    """The calendar rows: day (Timestamp), kind, name, discount, value."""
    cal = schema.calendar
    rows = store.read_sql(sa.select(cal.c.day, cal.c.kind, cal.c.name, cal.c.discount, cal.c.value))
    rows["day"] = pd.to_datetime(rows["day"])
    return rows


def country_holidays(country: str, days: pd.DatetimeIndex) -> set[pd.Timestamp]:
    """Public holidays of ``country`` (ISO code, e.g. GB) from the ``holidays`` package."""
    try:
        import holidays
    except ImportError as exc:  # pragma: no cover - the forecast extra installs it
        raise DependencyError(
            "country holidays need the holidays package", hint="pip install 'marketloop[forecast]'"
        ) from exc
    years = sorted({d.year for d in days})
    try:
        table = holidays.country_holidays(country.upper(), years=years)
    except NotImplementedError:
        raise InputError(
            f"holidays: unknown country code {country!r}",
            field="holidays",
            value=country,
            hint="Use an ISO 3166 code such as GB, DE, US or FR.",
        ) from None
    return {pd.Timestamp(d) for d in table}


def calendar_features(
    rows: pd.DataFrame, days: pd.DatetimeIndex, *, holiday_country: str | None = None
) -> pd.DataFrame:
    """One row per day of ``days`` (index ``ds``) with the calendar features described above."""
    days = pd.DatetimeIndex(days).normalize()
    out = pd.DataFrame(index=pd.Index(days, name="ds"))
    kinds = rows.groupby("kind")
    holiday_days = set(rows.loc[rows["kind"] == "holiday", "day"]) if len(rows) else set()
    if holiday_country:
        holiday_days |= country_holidays(holiday_country, days)
    out["holiday"] = days.isin(list(holiday_days)).astype(float)
    if "promotion" in kinds.groups:
        promo = kinds.get_group("promotion")
        discount = promo["discount"].fillna(DEFAULT_PROMOTION_DISCOUNT).astype(float).groupby(promo["day"]).max()
        out["promotion"] = discount.reindex(days).fillna(0.0).to_numpy()
    else:
        out["promotion"] = 0.0
    out["event"] = days.isin(list(rows.loc[rows["kind"] == "event", "day"])).astype(float) if len(rows) else 0.0
    if "season" in kinds.groups:
        season = kinds.get_group("season").drop_duplicates("day").set_index("day")["name"]
        codes = {name: k for k, name in enumerate(sorted(season.unique()))}
        out["season"] = season.map(codes).reindex(days).fillna(-1).to_numpy(dtype=float)
    else:
        out["season"] = -1.0
    for name, series in covariates(rows).items():
        out[name] = series.reindex(series.index.union(days)).sort_index().ffill().bfill().reindex(days).to_numpy()
    return out


def covariates(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """External series by feature name (``cov_<name>``), one value per day."""
    cov = rows[(rows["kind"] == "covariate")] if len(rows) else rows
    out = {}
    for name, part in cov.groupby("name"):
        values = part.dropna(subset=["value"])
        if values.empty:
            continue
        out[covariate_column(str(name))] = values.groupby("day")["value"].mean().astype(float).sort_index()
    return out


def covariate_column(name: str) -> str:
    return "cov_" + re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
