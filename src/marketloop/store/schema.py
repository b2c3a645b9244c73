"""The canonical MarketLoop schema, declared once with SQLAlchemy Core.

The same declarations create the tables on DuckDB, PostgreSQL and MySQL/MariaDB. Conventions:
- identifiers are strings (`ID`, 64 characters) so that any store's keys fit;
- timestamps are naive UTC (`DateTime`), money is a double in the store's currency;
- every table has a natural primary key, which is what makes ingestion idempotent;
- JSON-like documents (goals, plans, details) are stored as text holding JSON, portable everywhere.

Later issues fill `campaigns`, `sends` and `send_outcomes`; they are declared here so that the schema
is complete and versioned in one place. See docs/schema.md for every column.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

metadata = sa.MetaData()

ID = sa.String(64)
SHORT = sa.String(32)
NAME = sa.String(255)
MONEY = sa.Float(precision=53)
TS = sa.DateTime()

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column(
        "email_hash",
        sa.String(64),
        comment="keyed hash of the e-mail address (or the address when pseudonymisation is off)",
    ),
    sa.Column("phone_hash", sa.String(64), comment="keyed hash of the phone number"),
    sa.Column("first_name", sa.String(100), comment="optional, for salutations; erased by privacy forget"),
    sa.Column("country", sa.String(64)),
    sa.Column("city", sa.String(100)),
    sa.Column("time_zone", sa.String(64), comment="IANA name, e.g. Europe/London"),
    sa.Column("language", sa.String(16)),
    sa.Column("birth_year", sa.Integer, comment="optional; the fairness report groups by age band"),
    sa.Column("signup_at", TS),
    sa.Column("is_guest", sa.Boolean, nullable=False, default=False),
    sa.Column("source", NAME, comment="file or system the row came from"),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("product_id", ID, primary_key=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("category", NAME),
    sa.Column("brand", NAME),
    sa.Column("price", MONEY),
    sa.Column("cost", MONEY, comment="unit cost; margin = price - cost"),
    sa.Column("currency", sa.String(3)),
    sa.Column("stock", sa.Integer),
    sa.Column(
        "is_product", sa.Boolean, nullable=False, default=True, comment="false for postage, fees, manual adjustments"
    ),
    sa.Column("hidden", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", TS),
    sa.Column("source", NAME),
)

EVENT_TYPES = (
    "view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "wishlist",
    "checkout",
    "purchase",
    "click",
    "open",
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", ID, primary_key=True),
    sa.Column("customer_id", ID),
    sa.Column("session_id", ID),
    sa.Column("event_type", SHORT, nullable=False),
    sa.Column("product_id", ID),
    sa.Column("query", NAME, comment="search text for search events"),
    sa.Column("ts", TS, nullable=False),
    sa.Column("value", MONEY),
    sa.Column("source", NAME),
)

ORDER_STATUSES = ("completed", "cancelled", "returned", "pending")

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("order_id", ID, primary_key=True),
    sa.Column("customer_id", ID, comment="null for guest orders"),
    sa.Column("ordered_at", TS, nullable=False),
    sa.Column("status", SHORT, nullable=False),
    sa.Column(
        "is_return",
        sa.Boolean,
        nullable=False,
        default=False,
        comment="true for cancellations / returns (negative quantities)",
    ),
    sa.Column("country", sa.String(64)),
    sa.Column("currency", sa.String(3)),
    sa.Column("total", MONEY, comment="sum of line amounts, negative for returns"),
    sa.Column("channel", SHORT, comment="web, app, store, ..."),
    sa.Column("source", NAME),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_id", ID, primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("product_id", ID, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False, comment="negative on returns"),
    sa.Column("unit_price", MONEY, nullable=False),
    sa.Column("discount", MONEY, comment="discount amount on the line"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("review_id", ID, primary_key=True),
    sa.Column("product_id", ID, nullable=False),
    sa.Column("customer_id", ID),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("title", NAME),
    sa.Column("body", sa.Text),
    sa.Column("created_at", TS),
    sa.Column("source", NAME),
)

CHANNELS = ("email", "sms", "push", "webhook")

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("channel", SHORT, primary_key=True),
    sa.Column("status", SHORT, nullable=False, comment="granted or revoked"),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("source", NAME),
)

#: ``covariate`` rows carry an external daily series (a competitor price index, the weather) in ``value``,
#: one row per day and series name; the forecasts use them as features.
CALENDAR_KINDS = ("holiday", "promotion", "season", "event", "covariate")

calendar = sa.Table(
    "calendar",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("kind", SHORT, primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("region", sa.String(64)),
    sa.Column("discount", sa.Float, comment="store-wide discount during a promotion, 0-1"),
    sa.Column("value", sa.Float(precision=53), comment="the day's value of a covariate series (kind covariate)"),
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("campaign_id", ID, primary_key=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("status", SHORT, nullable=False),
    sa.Column("goal_json", sa.Text),
    sa.Column("plan_json", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

sends = sa.Table(
    "sends",
    metadata,
    sa.Column("send_id", ID, primary_key=True),
    sa.Column("campaign_id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("channel", SHORT, nullable=False),
    sa.Column("variant", sa.String(64)),
    sa.Column("is_holdout", sa.Boolean, nullable=False, default=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    sa.Column("status", SHORT, nullable=False),
    sa.Column("payload_json", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("sent_at", TS),
    # added by migration 6 (delivery): the outbox's delivery state
    sa.Column(
        "attempts", sa.Integer, nullable=False, default=0, server_default="0", comment="delivery attempts so far"
    ),
    sa.Column("next_attempt_at", TS, comment="not before this time (quiet hours, retry backoff); null = now"),
    sa.Column("last_error", sa.Text, comment="why the last attempt failed, or why the send was skipped"),
    sa.Column("updated_at", TS),
)

send_outcomes = sa.Table(
    "send_outcomes",
    metadata,
    sa.Column("send_id", ID, primary_key=True),
    sa.Column("kind", SHORT, primary_key=True, comment="delivered, open, click, conversion, unsubscribe, bounce"),
    sa.Column("ts", TS, primary_key=True),
    sa.Column("value", MONEY),
)

rejected_rows = sa.Table(
    "rejected_rows",
    metadata,
    sa.Column("ingest_id", ID, primary_key=True),
    sa.Column("entity", SHORT, primary_key=True, comment="the table the row was meant for, or the source format"),
    sa.Column(
        "line",
        sa.BigInteger,
        primary_key=True,
        comment="line of the record in the source file (1 = CSV header); row number for Parquet",
    ),
    sa.Column("field", sa.String(128), primary_key=True, comment="the offending field, or (row) for the whole record"),
    sa.Column(
        "code",
        SHORT,
        nullable=False,
        comment="kind of problem: missing, type, range, timestamp, duplicate, reference, encoding, columns, json, length, enum, ...",
    ),
    sa.Column("source", NAME, nullable=False),
    sa.Column("value", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("ingest_id", ID, primary_key=True, comment="hash of the kind, the file content and the options"),
    sa.Column("kind", sa.String(64), nullable=False, comment="entity or importer name"),
    sa.Column("source", NAME, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("rows_read", sa.BigInteger, nullable=False),
    sa.Column("rows_loaded", sa.BigInteger, nullable=False),
    sa.Column("rows_skipped", sa.BigInteger, nullable=False),
    sa.Column("rows_rejected", sa.BigInteger, nullable=False),
    sa.Column("summary_json", sa.Text),
    sa.Column("finished_at", TS, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("audit_id", ID, primary_key=True),
    sa.Column("ts", TS, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(128)),
    sa.Column("detail_json", sa.Text),
)

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("applied_at", TS, nullable=False),
)

campaign_audience = sa.Table(
    "campaign_audience",
    metadata,
    sa.Column("campaign_id", ID, primary_key=True),
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("group_name", sa.String(128), nullable=False, comment="the plan group (segment x offer x channel)"),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("channel", SHORT, nullable=False),
    sa.Column("discount", sa.Float, nullable=False, default=0.0),
    sa.Column("predicted_uplift", sa.Float, comment="predicted incremental purchase probability"),
    sa.Column("predicted_profit", MONEY, comment="predicted incremental profit of treating this customer"),
    sa.Column("products_json", sa.Text, comment="products to feature, as a JSON list of ids"),
)
# --- delivery ---
#: Customers never to be messaged on a channel ("*" = every channel): hard bounces, complaints,
#: unsubscribes, legal holds. Checked at send time, next to consent.
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("channel", SHORT, primary_key=True, comment="email, sms, push, webhook or * for all"),
    sa.Column("reason", sa.String(128), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

#: One dispatcher per campaign at a time: the owner renews ``heartbeat_at`` every batch; a lock whose
#: heartbeat is older than the lease may be taken over.
dispatch_locks = sa.Table(
    "dispatch_locks",
    metadata,
    sa.Column("campaign_id", ID, primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False, comment="host:pid:random of the dispatcher"),
    sa.Column("heartbeat_at", TS, nullable=False),
)

#: Tables holding a customer's personal or behavioural data, with the column naming the customer.
#: `privacy.forget` erases from every one of them; a test proves nothing remains.
CUSTOMER_TABLES: dict[str, str] = {
    "customers": "customer_id",
    "events": "customer_id",
    "orders": "customer_id",
    "reviews": "customer_id",
    "consents": "customer_id",
    "sends": "customer_id",
    "campaign_audience": "customer_id",
    "suppressions": "customer_id",
}


# Secondary indexes serve the row stores (PostgreSQL, MySQL). DuckDB scans with zone maps instead, and
# an index there only slows bulk loads down, so it is not created on DuckDB.
_ROW_STORES = ("postgresql", "mysql", "mariadb")
for _table, _column in (
    ("events", "customer_id"),
    ("events", "session_id"),  # a live visit's events, read per session recommendation request
    ("orders", "customer_id"),
    ("order_lines", "product_id"),
    ("reviews", "product_id"),
    ("sends", "campaign_id"),
    ("sends", "customer_id"),
):
    sa.Index(f"ix_{_table}_{_column}", metadata.tables[_table].c[_column]).ddl_if(dialect=_ROW_STORES)


#: Fact tables: append-mostly and by far the largest. Ingestion loads them set-wise (staging, duplicates
#: checked against the file and the store in one pass each, then one INSERT), so on DuckDB they carry no
#: primary-key index: maintaining the index row by row cost more than everything else in a bulk load, and
#: every writer checks the natural key set-wise before inserting (ingestion, the tracking API under its
#: write lock, the dispatcher by delete-then-insert). The key stays declared here (it documents the natural
#: key, and PostgreSQL and MySQL keep their primary-key indexes, which their lookups need).
FACT_TABLES = ("events", "orders", "order_lines")


@compiles(sa.schema.PrimaryKeyConstraint, "duckdb")
def _duckdb_primary_key(constraint: sa.schema.PrimaryKeyConstraint, compiler, **kw: object) -> str:  # noqa: ANN001
    if constraint.table is not None and constraint.table.name in FACT_TABLES:
        return ""
    return compiler.visit_primary_key_constraint(constraint, **kw)


def table(name: str) -> sa.Table:
    return metadata.tables[name]


# --- customers ---

customer_profiles = sa.Table(
    "customer_profiles",
    metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column(
        "as_of", sa.Date, nullable=False, comment="the day the profile describes (orders up to and including it)"
    ),
    sa.Column("first_order_at", TS),
    sa.Column("last_order_at", TS),
    sa.Column("orders", sa.Integer, nullable=False, comment="purchase orders (returns excluded)"),
    sa.Column("returns", sa.Integer, nullable=False, comment="return / cancellation orders"),
    sa.Column("revenue", MONEY, nullable=False, comment="net spend: purchases minus returns"),
    sa.Column("recency_days", sa.Integer, comment="days from the last purchase to as_of"),
    sa.Column("last_active_at", TS, comment="latest event of any type or order up to as_of"),
    sa.Column("days_inactive", sa.Integer, comment="days from the last activity to as_of"),
    sa.Column(
        "activity_gap_days",
        sa.Float,
        comment="the customer's usual days between active days (shrunk to the store's median)",
    ),
    sa.Column("lifecycle_stage", SHORT, comment="new, active, at_risk or churned, see docs/customers.md"),
    sa.Column("r_score", sa.Integer),
    sa.Column("f_score", sa.Integer),
    sa.Column("m_score", sa.Integer),
    sa.Column("segment", sa.String(64), comment="named RFM segment, see docs/customers.md"),
    sa.Column("p_alive", sa.Float, comment="BG/NBD probability the customer is still active"),
    sa.Column("expected_orders", sa.Float, comment="expected purchases over the CLV horizon"),
    sa.Column("expected_order_value", MONEY, comment="Gamma-Gamma expected spend per order"),
    sa.Column("clv", MONEY, comment="expected value over the CLV horizon"),
    sa.Column("clv_low", MONEY, comment="5 % quantile of the value over the horizon"),
    sa.Column("clv_high", MONEY, comment="95 % quantile of the value over the horizon"),
    sa.Column("churn_probability", sa.Float, comment="probability of no purchase in the churn horizon"),
    sa.Column(
        "churn_band",
        SHORT,
        comment="low, medium, high or very_high: quantiles of the churn probability (40 / 30 / 20 / 10 % of customers)",
    ),
    sa.Column("churn_model", SHORT, comment="model that produced churn_probability (lightgbm or bgnbd)"),
    sa.Column("next_order_at", sa.Date, comment="median expected date of the next order (null: not expected)"),
    sa.Column("next_order_low", sa.Date),
    sa.Column("next_order_high", sa.Date),
    sa.Column("propensity_30d", sa.Float, comment="probability of at least one purchase in the next 30 days"),
    sa.Column("high_value", sa.Boolean, nullable=False, default=False, comment="predicted value in the top share"),
    sa.Column("interests_json", sa.Text, comment="top category / brand / price-band affinities"),
    sa.Column("churn_reasons_json", sa.Text, comment="top SHAP contributions to churn risk"),
    sa.Column("propensity_reasons_json", sa.Text, comment="top SHAP contributions to the 30-day propensity"),
    sa.Column("computed_at", TS, nullable=False),
)

CUSTOMER_TABLES["customer_profiles"] = "customer_id"

profile_refreshes = sa.Table(
    "profile_refreshes",
    metadata,
    sa.Column("refresh_id", ID, primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column(
        "inputs_sha256",
        sa.String(64),
        nullable=False,
        comment="hash of the settings and of aggregates of what a refresh reads (counts, sums, latest times)",
    ),
    sa.Column("customers", sa.Integer, nullable=False, comment="profiles written"),
    sa.Column("report_json", sa.Text, comment="the refresh report: models, validation, timings (no customer data)"),
    sa.Column("computed_at", TS, nullable=False),
)


# --- recs ---

recs_models = sa.Table(
    "recs_models",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True, comment="model name: hybrid, als, ease, ..."),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", SHORT, nullable=False, comment="trained, promoted or retired"),
    sa.Column("path", sa.String(1024), nullable=False, comment="artefact folder (config.json + arrays.npz)"),
    sa.Column("params_json", sa.Text, nullable=False),
    sa.Column(
        "data_json",
        sa.Text,
        nullable=False,
        comment="training-data snapshot: rows, users, items, max timestamp, sha256",
    ),
    sa.Column("metrics_json", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("promoted_at", TS),
)


#: Batch for-you lists (written by `marketloop recs train --engine spark`): each customer's top products of
#: a model version, for campaigns and exports that need every customer's list at once.
recs_lists = sa.Table(
    "recs_lists",
    metadata,
    sa.Column("model", sa.String(64), primary_key=True, comment="model name, e.g. als"),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False, comment="registry version"),
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True, autoincrement=False, comment="1 = best"),
    sa.Column("product_id", ID, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("computed_at", TS, nullable=False),
)
CUSTOMER_TABLES["recs_lists"] = "customer_id"


# --- content ---

review_sentiment = sa.Table(
    "review_sentiment",
    metadata,
    sa.Column("review_id", ID, primary_key=True),
    sa.Column("product_id", ID, nullable=False, index=True),
    sa.Column("label", SHORT, nullable=False, comment="positive, negative or neutral"),
    sa.Column("score", sa.Float, nullable=False, comment="P(positive) - P(negative), or the lexicon score"),
    sa.Column("aspects_json", sa.Text, comment="[{aspect, polarity}] mentioned in the review"),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("scored_at", TS, nullable=False),
)

review_summaries = sa.Table(
    "review_summaries",
    metadata,
    sa.Column("product_id", ID, primary_key=True),
    sa.Column("n_reviews", sa.Integer, nullable=False),
    sa.Column("avg_rating", sa.Float),
    sa.Column("positive_share", sa.Float, nullable=False),
    sa.Column("loves_json", sa.Text, comment="[{aspect, mentions, share, quote}] praised most"),
    sa.Column("complaints_json", sa.Text, comment="[{aspect, mentions, share, quote}] criticised most"),
    sa.Column("highlight", NAME, comment="a short true remark copy generation may use"),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

llm_calls = sa.Table(
    "llm_calls",
    metadata,
    sa.Column("call_id", ID, primary_key=True),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("model", NAME),
    sa.Column("task", SHORT, nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("prompt_tokens", sa.Integer),
    sa.Column("completion_tokens", sa.Integer),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text),
)

# --- service ---
#: API keys for the HTTP service. Only a SHA-256 digest of the secret part is stored: the secret is
#: 32 random bytes, so a slow password hash adds nothing (there is no dictionary to guess from).
API_ROLES = ("admin", "marketer", "analyst", "ingest", "storefront")

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True, comment="public part of the key, shown in lists and logs"),
    sa.Column("name", sa.String(128), nullable=False, comment="who or what uses the key"),
    sa.Column("role", SHORT, nullable=False, comment="admin, marketer, analyst, ingest or storefront"),
    sa.Column("secret_sha256", sa.String(64), nullable=False, comment="hex SHA-256 of the secret part"),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("revoked_at", TS, comment="set when revoked; a revoked key never authenticates again"),
)


# --- always on: scheduled jobs, monitoring, alerts ---

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("run_id", ID, primary_key=True),
    sa.Column("job", sa.String(64), nullable=False, comment="profiles, recs, uplift, monitor, forecast, ..."),
    sa.Column("trigger", SHORT, nullable=False, comment="schedule or manual"),
    sa.Column("scheduled_for", TS, comment="the cron time this run was due at (null for manual runs)"),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("status", SHORT, nullable=False, comment="running, ok, skipped, kept (a retrain not promoted), failed"),
    sa.Column("message", sa.Text, comment="one line saying what happened"),
    sa.Column("figures_json", sa.Text, comment="the run's figures: metrics, counts, timings (no customer data)"),
)
sa.Index("ix_job_runs_job_started", job_runs.c.job, job_runs.c.started_at)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", ID, primary_key=True),
    sa.Column(
        "kind", sa.String(64), nullable=False, comment="drift, quality, freshness, rejects, retrain, fairness, job"
    ),
    sa.Column("subject", sa.String(255), nullable=False, comment="what it is about: a feature, a model, a campaign"),
    sa.Column("severity", SHORT, nullable=False, comment="warning or critical"),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("details_json", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_seen_at", TS, nullable=False, comment="an open alert raised again only updates this"),
    sa.Column("occurrences", sa.Integer, nullable=False, default=1),
    sa.Column("resolved_at", TS, comment="set when acknowledged or when the condition cleared"),
    sa.Column("webhook_status", SHORT, comment="sent, failed or null (no webhook configured)"),
)

#: Reference distributions of monitored features and scores (the window a model was trained on) and
#: the monitor's history of figures over time (drift reports, realised vs predicted quality).
monitor_records = sa.Table(
    "monitor_records",
    metadata,
    sa.Column("record_id", ID, primary_key=True),
    sa.Column("kind", SHORT, nullable=False, comment="reference, drift, quality, freshness"),
    sa.Column("subject", sa.String(255), nullable=False, comment="feature set, model or campaign"),
    sa.Column("window_start", TS),
    sa.Column("window_end", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("figures_json", sa.Text, nullable=False),
)

# --- forecast ---

forecast_runs = sa.Table(
    "forecast_runs",
    metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("freq", SHORT, nullable=False, comment="D (daily) or W (weekly, weeks starting Monday)"),
    sa.Column("horizon", sa.Integer, nullable=False, comment="periods ahead"),
    sa.Column("level", sa.Float, nullable=False, comment="prediction interval level, e.g. 90"),
    sa.Column("method", SHORT, nullable=False, comment="lgbm, ets or seasonal_naive"),
    sa.Column("history_end", sa.Date, nullable=False, comment="last day of sales the run learned from"),
    sa.Column("config_json", sa.Text, nullable=False, comment="model settings and feature list"),
    sa.Column("metrics_json", sa.Text, comment="calibration: interval half-widths per level, series counts"),
)

forecasts = sa.Table(
    "forecasts",
    metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("level", SHORT, primary_key=True, comment="store, category or product"),
    sa.Column("key", ID, primary_key=True, comment="the category or product id ('all' for the store)"),
    sa.Column("ds", sa.Date, primary_key=True, comment="the day (or the Monday of the week)"),
    sa.Column("forecast", sa.Float, nullable=False, comment="expected units sold"),
    sa.Column("lo", sa.Float, nullable=False, comment="lower end of the prediction interval"),
    sa.Column("hi", sa.Float, nullable=False, comment="upper end of the prediction interval"),
    sa.Column("cold_start", sa.Boolean, nullable=False, default=False, comment="product forecast from its category"),
)

stock_cover = sa.Table(
    "stock_cover",
    metadata,
    sa.Column("product_id", ID, primary_key=True),
    sa.Column("run_id", sa.String(40), nullable=False, comment="the forecast run it was computed from"),
    sa.Column("computed_at", TS, nullable=False),
    sa.Column("stock", sa.Integer, comment="units in stock when computed"),
    sa.Column("daily_demand", sa.Float, nullable=False, comment="forecast units per day (mean over the horizon)"),
    sa.Column("days_of_cover", sa.Float, comment="stock / daily demand; null when nothing is expected to sell"),
    sa.Column("window_days", sa.Integer, nullable=False, comment="the selling window the risks refer to"),
    sa.Column("p_stockout", sa.Float, nullable=False, comment="probability that demand in the window exceeds stock"),
    sa.Column("overstock_days", sa.Integer, nullable=False, comment="the period the overstock risk refers to"),
    sa.Column("overstock_units", sa.Float, nullable=False, comment="stock beyond the demand expected in that period"),
    sa.Column("p_overstock", sa.Float, nullable=False, comment="probability that stock is left after that period"),
    sa.Column("risk", SHORT, nullable=False, comment="stockout, overstock or ok"),
)
