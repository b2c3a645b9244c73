"""The market calendar: holidays, promotions and seasons, and the demand they drive.

Demand on a day (the multiplier applied to every customer's session rate) is

    weekly[day of week] x annual(day of year) x holiday(day) x (1 + 1.5 x promotion discount)

Holidays and seasons follow fixed rules, so demand is defined for any date (the response model uses
it after the generated window); promotions are drawn for the generated window only and also raise
the chance that a cart is bought, more for price-sensitive customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from marketloop.sim.tables import to_table

#: Monday .. Sunday: more browsing on Sunday and Monday evenings, less on Friday.
WEEKLY = np.array([1.06, 1.0, 0.98, 0.97, 0.9, 0.95, 1.14])
ANNUAL_AMPLITUDE = 0.12
PROMO_SESSION_LIFT = 1.5
REGION = "global"


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def holidays_of_year(year: int) -> list[tuple[date, str, float]]:
    """(day, name, demand multiplier) for the holidays the simulated market observes."""
    black_friday = _nth_weekday(year, 11, 3, 4) + timedelta(days=1)
    return [
        (date(year, 1, 1), "New Year's Day", 0.7),
        (date(year, 2, 14), "Valentine's Day", 1.15),
        (_nth_weekday(year, 5, 6, 2), "Mother's Day", 1.1),
        (_nth_weekday(year, 6, 6, 3), "Father's Day", 1.08),
        (date(year, 11, 11), "Singles' Day", 1.2),
        (black_friday, "Black Friday", 2.2),
        (black_friday + timedelta(days=3), "Cyber Monday", 1.8),
        (date(year, 12, 24), "Christmas Eve", 0.9),
        (date(year, 12, 25), "Christmas Day", 0.6),
        (date(year, 12, 26), "Boxing Day", 1.5),
    ]


def season_of(day: date) -> str:
    return (
        "winter",
        "winter",
        "spring",
        "spring",
        "spring",
        "summer",
        "summer",
        "summer",
        "autumn",
        "autumn",
        "autumn",
        "winter",
    )[day.month - 1]


def base_demand(days: list[date]) -> np.ndarray:
    """Demand from the fixed rules only (weekly, annual, holidays, Christmas shopping weeks)."""
    lookup: dict[date, float] = {}
    for year in sorted({d.year for d in days}):
        for day, _name, m in holidays_of_year(year):
            lookup[day] = m
    weekday = np.array([d.weekday() for d in days], dtype=np.int64)
    doy = np.array([d.timetuple().tm_yday for d in days], dtype=np.float64)
    run_up = np.array([1.25 if d.month == 12 and d.day <= 20 else 1.0 for d in days])
    holiday = np.array([lookup.get(d, 1.0) for d in days])
    annual = 1 + ANNUAL_AMPLITUDE * np.cos(2 * np.pi * (doy - 355) / 365.25)
    return WEEKLY[weekday] * annual * run_up * holiday


@dataclass
class Calendar:
    start: date
    days: int
    demand: np.ndarray  # per day of the window
    discount: np.ndarray  # store-wide promotion discount per day (0 when none)
    table: pa.Table

    def rows(self) -> pd.DataFrame:
        return self.table.to_pandas()


def _promotions(start: date, days: int, rng: np.random.Generator) -> list[tuple[date, int, str, float]]:
    """(first day, length, name, discount) of the promotions inside the window."""
    out: list[tuple[date, int, str, float]] = []
    end = start + timedelta(days=days)
    for year in range(start.year, end.year + 1):
        bf = _nth_weekday(year, 11, 3, 4) + timedelta(days=1)
        out.append((bf, 4, "Black Friday Sale", 0.25))
        out.append((date(year, 12, 26), 6, "Boxing Day Sale", 0.2))
        out.append((date(year, 6, 24), 10, "Summer Sale", 0.2))
        out.append((date(year, 1, 8), 7, "January Clearance", 0.3))
    n_flash = rng.poisson(8 * days / 365)
    offsets = rng.integers(0, max(1, days), n_flash)
    for off in sorted(offsets.tolist()):
        length = int(rng.integers(2, 6))
        disc = float(rng.choice([0.1, 0.15, 0.2, 0.3], p=[0.35, 0.3, 0.25, 0.1]))
        first = start + timedelta(days=off)
        out.append((first, length, f"Flash Sale {first.isoformat()}", disc))
    return [p for p in out if p[0] < end and p[0] + timedelta(days=p[1]) > start]


def build_calendar(start: date, days: int, rng: np.random.Generator) -> Calendar:
    day_list = [start + timedelta(days=i) for i in range(days)]
    demand = base_demand(day_list)
    discount = np.zeros(days)
    rows: list[tuple[date, str, str, float | None]] = []
    for d in day_list:
        rows.append((d, "season", season_of(d), None))
    for year in range(start.year, day_list[-1].year + 1):
        for d, name, _m in holidays_of_year(year):
            if start <= d < start + timedelta(days=days):
                rows.append((d, "holiday", name, None))
    for first, length, name, disc in _promotions(start, days, rng):
        for j in range(length):
            d = first + timedelta(days=j)
            i = (d - start).days
            if 0 <= i < days:
                rows.append((d, "promotion", name, disc))
                discount[i] = max(discount[i], disc)
    demand = demand * (1 + PROMO_SESSION_LIFT * discount)
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    table = to_table(
        "calendar",
        {
            "day": pa.array([r[0] for r in rows], type=pa.date32()),
            "kind": [r[1] for r in rows],
            "name": [r[2] for r in rows],
            "region": [REGION] * len(rows),
            "discount": pa.array([r[3] for r in rows], type=pa.float64()),
            "value": pa.nulls(len(rows), type=pa.float64()),  # the simulator has no external covariates
        },
    )
    return Calendar(start=start, days=days, demand=demand, discount=discount, table=table)


def calendar_from_rows(start: date, days: int, rows: pd.DataFrame) -> Calendar:
    """Rebuild the demand and discount arrays from a written calendar (used by ``SimWorld.load``)."""
    day_list = [start + timedelta(days=i) for i in range(days)]
    discount = np.zeros(days)
    promos = rows[rows["kind"] == "promotion"]
    for d, disc in zip(promos["day"], promos["discount"], strict=True):
        d = pd.Timestamp(d).date()
        i = (d - start).days
        if 0 <= i < days:
            discount[i] = max(discount[i], float(disc))
    demand = base_demand(day_list) * (1 + PROMO_SESSION_LIFT * discount)
    table = pa.Table.from_pandas(rows, preserve_index=False)
    return Calendar(start=start, days=days, demand=demand, discount=discount, table=table)
