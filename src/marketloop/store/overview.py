"""Sales overview: the store's headline figures, in portable SQL.

Queries aggregate to the day in the database (``CAST(ts AS DATE)`` works on DuckDB, PostgreSQL and
MySQL alike) and leave calendar bucketing (weeks, months) to pandas, so the same code runs on every
backend. Used by the demo report, the dashboard and the CLI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import pandas as pd
import sqlalchemy as sa

from marketloop.store import schema
from marketloop.store.engine import Store

#: Observed lifecycle stages (from order history only; the simulator's hidden truth is not used).
LIFECYCLE_RULES = (
    ("new", "first order in the last 30 days"),
    ("active", "ordered in the last 90 days, customer for longer than 30 days"),
    ("lapsing", "last order 91 to 180 days ago"),
    ("lapsed", "last order more than 180 days ago"),
    ("prospect", "known customer without a completed order"),
)


@dataclass(frozen=True)
class Kpis:
    revenue: float
    orders: int
    average_order_value: float
    customers_with_orders: int
    active_customers: int  # ordered in the last 90 days of the data
    repeat_rate: float  # share of buying customers with two or more orders
    returns_value: float
    as_of: dt.datetime | None

    def to_dict(self) -> dict:
        return asdict(self)


def _sales(store: Store) -> sa.Select:
    o = schema.orders
    return sa.select(o.c.customer_id, o.c.ordered_at, o.c.total).where(~o.c.is_return, o.c.status == "completed")


def daily_sales(store: Store) -> pd.DataFrame:
    """Revenue, orders and buying customers per day (completed sales, returns excluded)."""
    sales = _sales(store).subquery()
    day = sa.cast(sales.c.ordered_at, sa.Date).label("day")
    query = (
        sa.select(
            day,
            sa.func.coalesce(sa.func.sum(sales.c.total), 0).label("revenue"),
            sa.func.count().label("orders"),
            sa.func.count(sa.distinct(sales.c.customer_id)).label("customers"),
        )
        .group_by(day)
        .order_by(day)
    )
    frame = store.read_sql(query)
    frame["day"] = pd.to_datetime(frame["day"])
    frame["revenue"] = frame["revenue"].astype(float)
    return frame


def weekly_sales(store: Store) -> pd.DataFrame:
    daily = daily_sales(store)
    if daily.empty:
        return daily.assign(week=pd.Series(dtype="datetime64[ns]"))
    weekly = daily.set_index("day")[["revenue", "orders"]].resample("W-MON", label="left", closed="left").sum()
    return weekly.reset_index().rename(columns={"day": "week"})


def orders_by_category(store: Store, limit: int = 15) -> pd.DataFrame:
    """Order lines and revenue per product category (uncategorised products grouped as such)."""
    o, l, p = schema.orders, schema.order_lines, schema.products  # noqa: E741 - orders, lines, products
    category = sa.func.coalesce(p.c.category, "(uncategorised)").label("category")
    query = (
        sa.select(
            category,
            sa.func.count(sa.distinct(l.c.order_id)).label("orders"),
            sa.func.sum(l.c.quantity * l.c.unit_price).label("revenue"),
        )
        .select_from(l.join(o, o.c.order_id == l.c.order_id).join(p, p.c.product_id == l.c.product_id))
        .where(~o.c.is_return, p.c.is_product)
        .group_by(category)
        .order_by(sa.desc("revenue"))
        .limit(limit)
    )
    frame = store.read_sql(query)
    frame["revenue"] = frame["revenue"].astype(float)
    return frame


def customer_orders(store: Store) -> pd.DataFrame:
    """Per customer: first and last completed order and the number of orders."""
    sales = _sales(store).subquery()
    query = (
        sa.select(
            sales.c.customer_id,
            sa.func.min(sales.c.ordered_at).label("first_order"),
            sa.func.max(sales.c.ordered_at).label("last_order"),
            sa.func.count().label("orders"),
            sa.func.sum(sales.c.total).label("revenue"),
        )
        .where(sales.c.customer_id.is_not(None))
        .group_by(sales.c.customer_id)
    )
    return store.read_sql(query)


def lifecycle_counts(store: Store, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Customers per observed lifecycle stage (see LIFECYCLE_RULES) as of the last order date."""
    per_customer = customer_orders(store)
    total_customers = store.count("customers")
    as_of = as_of or (pd.to_datetime(per_customer["last_order"]).max() if len(per_customer) else None)
    stages = pd.Series(dtype=object)
    if len(per_customer):
        first = pd.to_datetime(per_customer["first_order"])
        last = pd.to_datetime(per_customer["last_order"])
        since_last = (pd.Timestamp(as_of) - last).dt.days
        since_first = (pd.Timestamp(as_of) - first).dt.days
        stages = pd.Series("lapsed", index=per_customer.index)
        stages[since_last <= 180] = "lapsing"
        stages[since_last <= 90] = "active"
        stages[since_first <= 30] = "new"
    counts = stages.value_counts()
    prospects = max(total_customers - len(per_customer), 0)
    order = [name for name, _ in LIFECYCLE_RULES]
    data = [(name, int(counts.get(name, 0)) if name != "prospect" else prospects) for name in order]
    return pd.DataFrame(data, columns=["stage", "customers"])


def kpis(store: Store) -> Kpis:
    per_customer = customer_orders(store)
    o = schema.orders
    totals = store.read_sql(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((~o.c.is_return, o.c.total), else_=0)), 0).label("revenue"),
            sa.func.sum(sa.case((~o.c.is_return, 1), else_=0)).label("orders"),
            sa.func.coalesce(sa.func.sum(sa.case((o.c.is_return, o.c.total), else_=0)), 0).label("returns"),
            sa.func.max(o.c.ordered_at).label("as_of"),
        )
    ).iloc[0]
    orders = int(totals["orders"] or 0)
    revenue = float(totals["revenue"] or 0)
    as_of = pd.to_datetime(totals["as_of"]) if totals["as_of"] is not None else None
    active = 0
    if len(per_customer) and as_of is not None:
        active = int(((as_of - pd.to_datetime(per_customer["last_order"])).dt.days <= 90).sum())
    buyers = len(per_customer)
    return Kpis(
        revenue=round(revenue, 2),
        orders=orders,
        average_order_value=round(revenue / orders, 2) if orders else 0.0,
        customers_with_orders=buyers,
        active_customers=active,
        repeat_rate=round(float((per_customer["orders"] >= 2).mean()), 4) if buyers else 0.0,
        returns_value=round(abs(float(totals["returns"] or 0)), 2),
        as_of=as_of.to_pydatetime() if as_of is not None else None,
    )


def _year_month(column: sa.ColumnElement) -> tuple[sa.ColumnElement, sa.ColumnElement]:
    # EXTRACT(YEAR/MONTH FROM ts) is standard SQL: DuckDB, PostgreSQL and MySQL all accept it
    return sa.extract("year", column).label("y"), sa.extract("month", column).label("m")


def monthly_series(store: Store, months: int | None = None) -> pd.DataFrame:
    """Per calendar month (completed sales, returns excluded): revenue, orders, average order value,
    buying (active) customers, new customers (first completed order that month), returning customers
    (bought that month and before) and the repeat rate (returning / active). Months without sales
    inside the range are filled with zeros; `months` keeps only the last so many."""
    sales = _sales(store).subquery()
    y, m = _year_month(sales.c.ordered_at)
    per_month = store.read_sql(
        sa.select(
            y,
            m,
            sa.func.coalesce(sa.func.sum(sales.c.total), 0).label("revenue"),
            sa.func.count().label("orders"),
            sa.func.count(sa.distinct(sales.c.customer_id)).label("active_customers"),
        ).group_by(y, m)
    )
    firsts = (
        sa.select(sales.c.customer_id, sa.func.min(sales.c.ordered_at).label("first_at"))
        .where(sales.c.customer_id.is_not(None))
        .group_by(sales.c.customer_id)
        .subquery()
    )
    fy, fm = _year_month(firsts.c.first_at)
    new = store.read_sql(sa.select(fy, fm, sa.func.count().label("new_customers")).group_by(fy, fm))
    columns = [
        "month",
        "revenue",
        "orders",
        "aov",
        "active_customers",
        "new_customers",
        "returning_customers",
        "repeat_rate",
    ]
    if per_month.empty:
        return pd.DataFrame(columns=columns)

    def period(frame: pd.DataFrame) -> pd.PeriodIndex:
        return pd.PeriodIndex.from_fields(year=frame["y"].astype(int), month=frame["m"].astype(int), freq="M")

    per_month.index = period(per_month)
    new.index = period(new) if len(new) else pd.PeriodIndex([], freq="M")
    full = pd.period_range(per_month.index.min(), per_month.index.max(), freq="M")
    out = pd.DataFrame(index=full)
    out["revenue"] = per_month["revenue"].astype(float).reindex(full, fill_value=0.0).round(2)
    out["orders"] = per_month["orders"].astype(int).reindex(full, fill_value=0)
    out["active_customers"] = per_month["active_customers"].astype(int).reindex(full, fill_value=0)
    out["new_customers"] = new["new_customers"].astype(int).reindex(full, fill_value=0) if len(new) else 0
    out["returning_customers"] = out["active_customers"] - out["new_customers"]
    orders = out["orders"].where(out["orders"] > 0)
    active = out["active_customers"].where(out["active_customers"] > 0)
    out["aov"] = (out["revenue"] / orders).fillna(0.0).round(2)
    out["repeat_rate"] = (out["returning_customers"] / active).fillna(0.0).round(4)
    out["month"] = full.strftime("%Y-%m")
    out = out.reset_index(drop=True)[columns]
    return out.tail(months).reset_index(drop=True) if months else out


def product_sales(store: Store, product_id: str) -> dict[str, object]:
    """One product's sales (orders, units, revenue, last sale; returns excluded) and review count and
    mean rating."""
    o, ln, r = schema.orders, schema.order_lines, schema.reviews
    sales = store.read_sql(
        sa.select(
            sa.func.count(sa.distinct(ln.c.order_id)).label("orders"),
            sa.func.coalesce(sa.func.sum(ln.c.quantity), 0).label("units"),
            sa.func.coalesce(sa.func.sum(ln.c.quantity * ln.c.unit_price), 0).label("revenue"),
            sa.func.max(o.c.ordered_at).label("last_ordered_at"),
        )
        .select_from(ln.join(o, o.c.order_id == ln.c.order_id))
        .where(ln.c.product_id == str(product_id), ~o.c.is_return)
    ).iloc[0]
    reviews = store.read_sql(
        sa.select(sa.func.count().label("reviews"), sa.func.avg(r.c.rating).label("rating")).where(
            r.c.product_id == str(product_id)
        )
    ).iloc[0]
    last = sales["last_ordered_at"]
    return {
        "orders": int(sales["orders"] or 0),
        "units": int(sales["units"] or 0),
        "revenue": round(float(sales["revenue"] or 0), 2),
        "last_ordered_at": None if last is None or pd.isna(last) else pd.Timestamp(last).to_pydatetime(),
        "reviews": int(reviews["reviews"] or 0),
        "mean_rating": None
        if reviews["rating"] is None or pd.isna(reviews["rating"])
        else round(float(reviews["rating"]), 2),
    }
