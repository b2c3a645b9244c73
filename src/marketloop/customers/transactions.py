"""Transactions: the one input every customer model reads.

A transactions frame has one row per order with the columns ``customer_id`` (string, null for guest
orders), ``ts`` (naive timestamp), ``amount`` (order total; negative for returns) and ``is_return``.
It comes from the store (``orders``) or from a file in one of three formats:

- ``cdnow``: Fader and Hardie's CDNOW files, ``CDNOW_master.txt`` (header, 4 columns) or
  ``CDNOW_sample.txt`` (no header, 5 columns: original id, sample id, YYYYMMDD, CDs, dollars);
- ``uci``: the UCI Online Retail line items (invoices starting with ``C`` are cancellations, an empty
  ``CustomerID`` is a guest); lines are summed per invoice;
- ``generic``: any CSV / Parquet file with a customer id, a date or timestamp and an amount column.

Handling, documented in docs/customers.md: guest orders are counted in the report but never enter a
customer model; a negative amount is a return (it lowers net spend and is not a purchase); several
purchases on the same day count as one purchase occasion, as in the BG/NBD literature.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from marketloop.clock import utcnow
from marketloop.errors import InputError, NotFoundError

log = logging.getLogger(__name__)

FORMATS = ("cdnow", "uci", "generic")
COLUMNS = ("customer_id", "ts", "amount", "is_return")


@dataclass(frozen=True)
class GenericColumns:
    """Column names of a ``generic`` transactions file."""

    customer: str = "customer_id"
    date: str = "date"
    amount: str = "amount"


def read_transactions(path: str | Path, fmt: str = "generic", columns: GenericColumns | None = None) -> pd.DataFrame:
    """Read a transactions file into the canonical frame (see the module docstring)."""
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(
            f"format {fmt!r} is not known (expected one of {', '.join(FORMATS)})",
            field="format",
            value=fmt,
            hint="Use --format generic with --customer-col/--date-col/--amount-col for your own CSV.",
        )
    if not path.exists():
        raise NotFoundError(f"Transactions file {str(path)!r} does not exist", hint="Check the path.")
    if fmt == "cdnow":
        frame = _read_cdnow(path)
    elif fmt == "uci":
        frame = _read_uci(path)
    else:
        frame = _read_generic(path, columns or GenericColumns())
    return finish_frame(frame, source=str(path))


def _read_cdnow(path: Path) -> pd.DataFrame:
    with path.open() as handle:
        first = handle.readline().split()
    has_header = bool(first) and not first[0].isdigit()
    raw = pd.read_csv(path, sep=r"\s+", header=None, skiprows=1 if has_header else 0, dtype=str)
    if raw.shape[1] == 5:  # CDNOW_sample: original id, sample id, date, CDs, dollars
        raw = raw.iloc[:, [1, 2, 4]]
    elif raw.shape[1] == 4:  # CDNOW_master: id, date, CDs, dollars
        raw = raw.iloc[:, [0, 1, 3]]
    else:
        raise InputError(
            f"CDNOW file {str(path)!r} has {raw.shape[1]} columns (expected 4 or 5)",
            field="transactions",
            value=str(path),
            hint="Use CDNOW_master.txt or CDNOW_sample.txt unchanged, or --format generic.",
        )
    raw.columns = ["customer_id", "date", "amount"]
    ts = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    _check_parsed(ts, raw["date"], "date", path)
    amount = pd.to_numeric(raw["amount"], errors="coerce")
    _check_parsed(amount, raw["amount"], "dollar_value", path)
    return pd.DataFrame(
        {"customer_id": raw["customer_id"].str.lstrip("0").replace("", "0"), "ts": ts, "amount": amount}
    )


def _read_uci(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    missing = {"InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"} - set(raw.columns)
    if missing:
        raise InputError(
            f"UCI file {str(path)!r} lacks the columns {sorted(missing)}",
            field="transactions",
            value=str(path),
            hint="Use the UCI Online Retail file unchanged, or --format generic.",
        )
    raw["line_amount"] = raw["Quantity"] * raw["UnitPrice"]
    raw["ts"] = pd.to_datetime(raw["InvoiceDate"], format="mixed", errors="coerce")
    _check_parsed(raw["ts"], raw["InvoiceDate"], "InvoiceDate", path)
    customer = raw["CustomerID"].str.replace(r"\.0$", "", regex=True)
    raw["customer_id"] = customer.where(customer.notna() & (customer.str.strip() != ""), None)
    orders = raw.groupby("InvoiceNo", sort=False, dropna=False).agg(
        customer_id=("customer_id", "first"), ts=("ts", "min"), amount=("line_amount", "sum")
    )
    orders["is_return"] = orders.index.str.startswith("C") | (orders["amount"] < 0)
    return orders.reset_index(drop=True)


def _read_generic(path: Path, columns: GenericColumns) -> pd.DataFrame:
    raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={columns.customer: str})
    for role, name in (("customer", columns.customer), ("date", columns.date), ("amount", columns.amount)):
        if name not in raw.columns:
            raise InputError(
                f"transactions file {str(path)!r} has no {role} column {name!r} "
                f"(columns: {', '.join(map(str, raw.columns[:12]))})",
                field=f"{role}_col",
                value=name,
                hint=f"Name the {role} column with --{role}-col.",
            )
    ts = pd.to_datetime(raw[columns.date], format="mixed", errors="coerce")
    _check_parsed(ts, raw[columns.date], columns.date, path)
    amount = pd.to_numeric(raw[columns.amount], errors="coerce")
    _check_parsed(amount, raw[columns.amount], columns.amount, path)
    customer = raw[columns.customer].astype("string").str.strip()
    return pd.DataFrame({"customer_id": customer.where(customer != "", None), "ts": ts, "amount": amount})


def _check_parsed(parsed: pd.Series, raw: pd.Series, name: str, path: Path) -> None:
    bad = parsed.isna() & raw.notna()
    if bad.any():
        first = raw[bad].iloc[0]
        raise InputError(
            f"column {name!r} of {str(path)!r} has {int(bad.sum())} unreadable values (first: {first!r})",
            field=name,
            value=first,
            hint="Fix or remove those rows; dates must be ISO (YYYY-MM-DD) or YYYYMMDD, amounts numbers.",
        )


def finish_frame(frame: pd.DataFrame, source: str = "transactions") -> pd.DataFrame:
    """Bring a frame with customer_id, ts, amount (and maybe is_return) to the canonical shape."""
    out = pd.DataFrame(
        {
            # categorical: every model groups by customer, and grouping codes is much faster than strings
            "customer_id": frame["customer_id"]
            .astype("string")
            .astype(object)
            .where(frame["customer_id"].notna(), None)
            .astype("category"),
            "ts": pd.to_datetime(frame["ts"]).astype("datetime64[us]"),
            "amount": pd.to_numeric(frame["amount"]).astype(float),
        }
    )
    flag = frame["is_return"].astype(bool) if "is_return" in frame else pd.Series(False, index=frame.index)
    # Documented fallback: a negative total is a return, whatever the source says.
    out["is_return"] = (flag | (out["amount"] < 0)).to_numpy()
    out = out.dropna(subset=["ts"]).sort_values("ts", kind="stable").reset_index(drop=True)
    log.info(
        "%s: %d orders, %d returns, %d guest orders",
        source,
        len(out),
        int(out["is_return"].sum()),
        int(out["customer_id"].isna().sum()),
    )
    return out


def transactions_from_store(store, as_of: dt.date | None = None) -> pd.DataFrame:  # noqa: ANN001 - Store
    """Orders of the store as a transactions frame (cancelled and pending orders are left out)."""
    import sqlalchemy as sa

    from marketloop.store import schema

    o = schema.orders
    query = sa.select(o.c.customer_id, o.c.ordered_at.label("ts"), o.c.total.label("amount"), o.c.is_return).where(
        o.c.status.notin_(["cancelled", "pending"])
    )
    if as_of is not None:
        query = query.where(o.c.ordered_at < dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))
    from marketloop.customers.frames import read_frame

    frame = read_frame(store, query)
    if frame.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in zip(COLUMNS, (object, "datetime64[us]", float, bool), strict=False)}
        )
    frame["amount"] = frame["amount"].fillna(0.0)
    return finish_frame(frame, source="store")


@dataclass(frozen=True)
class DataReport:
    """What was read and how it was handled; printed by the commands and kept in the JSON output."""

    orders: int
    customers: int
    purchases: int
    returns: int
    guest_orders: int
    guest_revenue: float
    first_day: str
    last_day: str

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def check_transactions(
    tx: pd.DataFrame,
    *,
    as_of: dt.date | None = None,
    min_history_days: int = 28,
    future_tolerance_days: int = 2,
    today: dt.date | None = None,
) -> DataReport:
    """Refuse data no customer model can learn from; return counts for the report.

    Errors (each names what was found and how to fix it): no orders, dates in the future, a single
    customer, every order on one day, less than ``min_history_days`` of history, no purchases at all.
    """
    today = today or utcnow().date()
    limit = pd.Timestamp(today + dt.timedelta(days=future_tolerance_days + 1))
    future = tx["ts"] >= limit
    rows, first_future = len(tx), (tx.loc[future, "ts"].iloc[0] if future.any() else None)
    if as_of is not None:
        tx = tx[tx["ts"] < pd.Timestamp(as_of + dt.timedelta(days=1))]
    known = tx[tx["customer_id"].notna()]
    purchases = known[~known["is_return"]]
    days = purchases["ts"].dt.normalize()
    guests = tx[tx["customer_id"].isna()]
    facts = TransactionFacts(
        rows=rows,
        orders=len(tx),
        future_orders=int(future.sum()),
        first_future=first_future,
        customers=int(known["customer_id"].nunique()),
        purchases=len(purchases),
        purchase_customers=int(purchases["customer_id"].nunique()),
        first_customer=purchases["customer_id"].iloc[0] if len(purchases) else None,
        returns=int(known["is_return"].sum()),
        guest_orders=len(guests),
        guest_revenue=float(guests["amount"].sum()),
        first_day=days.min() if len(days) else None,
        last_day=days.max() if len(days) else None,
    )
    return judge_transactions(facts, min_history_days=min_history_days, today=today)


@dataclass(frozen=True)
class TransactionFacts:
    """The aggregates :func:`check_transactions` judges (an engine computes them without the rows):
    ``rows`` counts every order, ``orders`` and the rest those up to ``as_of``, ``future_orders`` those
    dated after today (plus the tolerance)."""

    rows: int
    orders: int
    future_orders: int
    first_future: pd.Timestamp | None
    customers: int
    purchases: int
    purchase_customers: int
    first_customer: object
    returns: int
    guest_orders: int
    guest_revenue: float
    first_day: pd.Timestamp | None
    last_day: pd.Timestamp | None


def judge_transactions(facts: TransactionFacts, *, min_history_days: int, today: dt.date) -> DataReport:
    """Raise the error :func:`check_transactions` documents for unusable data, else the report."""
    if facts.rows == 0:
        raise InputError(
            "the transactions are empty (no orders)",
            field="transactions",
            value=0,
            hint="Load orders first (marketloop ingest / import) or check the file.",
        )
    if facts.future_orders:
        first = facts.first_future
        raise InputError(
            f"{facts.future_orders} orders are dated in the future (first: {first:%Y-%m-%d}, today is {today})",
            field="ts",
            value=str(first),
            hint="Check the date format (day/month order) and the time zone, or remove those rows.",
        )
    if facts.purchases == 0:
        raise InputError(
            "there are no purchases by known customers (only returns or guest orders)",
            field="transactions",
            value=facts.orders,
            hint="Customer models need orders with a customer id and a positive total.",
        )
    if facts.purchase_customers < 2:
        raise InputError(
            f"the transactions hold a single customer ({facts.first_customer!r}); "
            "customer models learn from a population",
            field="customer_id",
            value=facts.purchase_customers,
            hint="Check the customer id column (--customer-col); at least 2 customers, ideally hundreds, are needed.",
        )
    first_day, last_day = facts.first_day, facts.last_day
    span = int((last_day - first_day).days)
    if span == 0:
        raise InputError(
            f"all {facts.purchases} purchases are on one day ({first_day:%Y-%m-%d}); "
            "recency and repeat purchases are undefined",
            field="ts",
            value=str(first_day.date()),
            hint="Check the date column (was a load date used instead of the order date?).",
        )
    if span < min_history_days:
        raise InputError(
            f"the purchases span only {span} days ({first_day:%Y-%m-%d} to {last_day:%Y-%m-%d}); "
            f"at least {min_history_days} days are needed",
            field="ts",
            value=span,
            hint="Wait for more history or load older orders.",
        )
    return DataReport(
        orders=facts.orders,
        customers=facts.customers,
        purchases=facts.purchases,
        returns=facts.returns,
        guest_orders=facts.guest_orders,
        guest_revenue=round(facts.guest_revenue, 2),
        first_day=str(first_day.date()),
        last_day=str(last_day.date()),
    )


def daily_purchases(tx: pd.DataFrame, as_of: dt.date | None = None) -> pd.DataFrame:
    """Purchases of known customers merged per customer and day: customer_id, day, amount, orders."""
    rows = tx[tx["customer_id"].notna() & ~tx["is_return"]]
    if as_of is not None:
        rows = rows[rows["ts"] < pd.Timestamp(as_of + dt.timedelta(days=1))]
    out = (
        rows.assign(day=rows["ts"].dt.normalize())
        .groupby(["customer_id", "day"], sort=False, observed=True)
        .agg(amount=("amount", "sum"), orders=("amount", "size"))
        .reset_index()
    )
    return out


@dataclass(frozen=True)
class History:
    """Purchase days (one row per customer and day) and returns, computed once per transactions frame
    and then cut at any snapshot date."""

    daily: pd.DataFrame
    returns: pd.DataFrame

    @classmethod
    def of(cls, tx: pd.DataFrame | History) -> History:
        if isinstance(tx, History):
            return tx
        known = tx[tx["customer_id"].notna()]
        return cls(daily_purchases(known), known[known["is_return"]])


def rfm_summary(tx: pd.DataFrame | History, as_of: dt.date, time_unit_days: float = 7.0) -> pd.DataFrame:
    """Per-customer ``frequency`` (repeat purchase days), ``recency`` and ``T`` (in time units) and
    ``monetary_value`` (mean of the repeat purchase days' totals), as BG/NBD and Gamma-Gamma expect.

    Only purchases on or before ``as_of`` count; customers whose first purchase is after it are absent.
    """
    if isinstance(tx, History):
        daily = tx.daily[tx.daily["day"] <= pd.Timestamp(as_of)]
    else:
        daily = daily_purchases(tx, as_of)
    daily = daily.sort_values(["customer_id", "day"], kind="stable")
    end = pd.Timestamp(as_of)
    grouped = daily.groupby("customer_id", sort=True, observed=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    count = grouped["day"].size()
    total = grouped["amount"].sum()
    first_amount = grouped["amount"].first()
    repeat = count - 1
    monetary = np.where(repeat > 0, (total - first_amount) / repeat.clip(lower=1), 0.0)
    return pd.DataFrame(
        {
            "customer_id": first.index.astype(str),
            "frequency": repeat.to_numpy(dtype=float),
            "recency": ((last - first).dt.days / time_unit_days).to_numpy(dtype=float),
            "T": ((end - first).dt.days / time_unit_days).to_numpy(dtype=float),
            "monetary_value": np.asarray(monetary, dtype=float),
        }
    ).reset_index(drop=True)


def repeat_purchases_between(tx: pd.DataFrame, start: dt.date, end: dt.date) -> pd.Series:
    """Purchase days per customer in (start, end], indexed by customer id (for holdout checks)."""
    daily = daily_purchases(tx, end)
    window = daily[daily["day"] > pd.Timestamp(start)]
    counts = window.groupby("customer_id", observed=True).size()
    return counts.set_axis(counts.index.astype(str))
