"""Typed settings for MarketLoop.

Sources, highest priority first: explicit overrides (command-line options), environment variables
with the prefix ``MARKETLOOP_`` (e.g. ``MARKETLOOP_DB_URL``), a ``marketloop.toml`` file in the
current directory (or the file named by ``MARKETLOOP_CONFIG``), then the defaults below.

Settings are built lazily by :func:`get_settings`, never at import time.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from marketloop.errors import ConfigError

DEFAULT_DB_URL = "duckdb:///marketloop.duckdb"


class Settings(BaseSettings):
    """Every tunable of MarketLoop in one validated object."""

    model_config = SettingsConfigDict(
        env_prefix="MARKETLOOP_",
        extra="forbid",
        toml_file="marketloop.toml",
    )

    db_url: str = Field(
        DEFAULT_DB_URL,
        description="Store URL: duckdb:///path.duckdb, postgresql://user@host/db or mysql://user@host/db.",
    )
    pii_secret: SecretStr | None = Field(
        None,
        description="Key for pseudonymising e-mail addresses and phone numbers (HMAC-SHA256). "
        "When unset, a random key is created once in `secret_file`.",
    )
    secret_file: Path = Field(
        Path(".marketloop/pii.key"),
        description="Where the generated pseudonymisation key lives when `pii_secret` is unset.",
    )
    pseudonymise_pii: bool = Field(
        True, description="Hash e-mail addresses and phone numbers on ingestion (recommended)."
    )
    max_text_length: int = Field(
        20_000, gt=0, description="Longest accepted text field (descriptions, reviews), in characters."
    )
    max_price: float = Field(1_000_000.0, gt=0, description="Prices above this are rejected as absurd.")
    earliest_date: str = Field("1990-01-01", description="Timestamps before this date are rejected as impossible.")
    future_tolerance_days: int = Field(
        2, ge=0, description="Timestamps more than this many days in the future are rejected."
    )
    ingest_memory_limit: str | None = Field(
        None,
        description="Memory DuckDB may use while loading a file, e.g. 2GB (default: DuckDB's own, 80 % of RAM). "
        "Beyond it the load spills to DuckDB's temporary directory, so files larger than memory still load.",
    )
    engine: str = Field(
        "duckdb",
        description="Engine of the batch jobs (profiles, ALS, uplift scoring): duckdb (one machine) or spark.",
    )
    spark_master: str = Field(
        "local[2]", description="Spark master for --engine spark: local[N] on one machine, or a cluster URL."
    )
    spark_shuffle_partitions: int = Field(
        8, gt=0, description="Partitions of Spark's shuffles (about 2-4 per core of the cluster)."
    )
    spark_driver_memory: str = Field("4g", description="Memory of the Spark driver (local mode: the whole job).")
    spark_conf: dict[str, Any] = Field(
        default_factory=dict,
        description='Further Spark settings, e.g. {"spark.executor.memory": "8g"} (JSON in MARKETLOOP_SPARK_CONF).',
    )
    models_dir: Path = Field(
        Path(".marketloop/models"),
        description="Where trained recommendation models are stored (the registry's artefacts).",
    )
    cache_dir: Path = Field(
        Path(".marketloop/cache"), description="Caches that can be rebuilt, e.g. product-text embeddings."
    )
    debug: bool = Field(False, description="Show tracebacks for errors (for developers).")
    # --- service (marketloop serve) ---
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Address customers and browsers reach the service at (used in unsubscribe links).",
    )
    session_secret: SecretStr | None = Field(
        None,
        description="Key signing dashboard sessions and unsubscribe links. When unset, a random key is "
        "created once in `session_secret_file`.",
    )
    session_secret_file: Path = Field(
        Path(".marketloop/session.key"),
        description="Where the generated session key lives when `session_secret` is unset.",
    )
    api_rate_limit: float = Field(
        200.0, gt=0, description="Sustained requests per second allowed per API key (token bucket)."
    )
    api_rate_burst: int = Field(400, gt=0, description="Requests an API key may make at once above the sustained rate.")
    api_role_rate_limits: dict[str, float] = Field(
        default_factory=lambda: {"storefront": 5000.0},
        description="Sustained requests per second per API key for these roles, instead of api_rate_limit "
        "(a shop's front end asks for recommendations at page-view rates).",
    )
    serve_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="HTTP worker processes of `marketloop serve` (PostgreSQL / MySQL only; set by --workers). "
        "Each keeps its own rate-limit buckets with 1/N of every limit.",
    )
    api_role_rate_bursts: dict[str, int] = Field(
        default_factory=lambda: {"storefront": 10000},
        description="Burst per API key for these roles, instead of api_rate_burst.",
    )
    api_max_body_bytes: int = Field(
        1_048_576, gt=0, description="Largest request body the API accepts, in bytes (larger gets 413)."
    )
    api_max_batch: int = Field(1_000, gt=0, description="Most events accepted in one tracking request.")
    channels_file: Path | None = Field(
        None,
        description="JSON or TOML file routing channels to providers for the service's dispatcher "
        '(e.g. {"email": {"provider": "smtp", "host": "localhost"}}).',
    )
    sim_dir: Path | None = Field(
        None,
        description="A `marketloop sim` folder: the service's dispatcher delivers to its simulated customers.",
    )
    send_policy_file: Path | None = Field(
        None,
        description="JSON or TOML file with send-time rules (caps, quiet hours, retries) for the dispatcher.",
    )
    worker_interval_s: float = Field(2.0, gt=0, description="Seconds between the dispatcher's looks for due sends.")
    copy_provider: str = Field(
        "template",
        description="Text provider the API writes copy with: template (built-in, grounded, no model), "
        "openai, transformers, llamacpp or a plugin.",
    )
    copy_provider_options: dict[str, Any] = Field(
        default_factory=dict,
        description='Options of `copy_provider`, e.g. {"base_url": "http://127.0.0.1:8000/v1", '
        '"model": "qwen2.5"} (JSON in MARKETLOOP_COPY_PROVIDER_OPTIONS).',
    )
    clock: str = Field(
        "system",
        description="Business time for the planner, the dispatcher and flows: `system` (the wall clock) "
        "or an ISO-8601 instant such as 2011-09-01T09:00:00Z, from which time runs at wall speed (replays).",
    )
    api_max_inflight_writes: int = Field(
        4, gt=0, description="Tracking batches written at once; beyond this the API answers 503 with Retry-After."
    )
    # --- always on: schedules, monitoring, alerts, fairness ---
    schedules: dict[str, str] = Field(
        default_factory=dict,
        description="When the worker runs each job, as a cron expression in UTC (minute hour day month weekday), "
        'or "off", replacing the job\'s default: profiles 0 2 * * *, recs 0 3 * * *, uplift 15 * * * *, '
        'monitor 30 * * * *, and any registered plugin job (e.g. forecast). Example: {"recs": "0 4 * * 0"} '
        "(JSON in MARKETLOOP_SCHEDULES).",
    )
    schedule_check_s: float = Field(30.0, gt=0, description="Seconds between the worker's looks for due jobs.")
    run_schedules: bool = Field(
        True, description="Whether the worker (and `serve` with its built-in worker) runs the scheduled jobs."
    )
    recs_retrain_model: str = Field("hybrid", description="The recommender the scheduled retraining trains and gates.")
    recs_encoder: str = Field(
        "minilm",
        description="Text encoder of the content recommender the scheduled retraining trains (minilm or hashing).",
    )
    recs_gate_window_days: float = Field(
        14.0,
        gt=0,
        description="The latest window (days of data) the retrained and the current recommender are scored on.",
    )
    recs_gate_metric: str = Field(
        "ndcg@10", description="Offline metric that gates promotion of a retrained recommender."
    )
    recs_gate_tolerance: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="A retrained recommender is promoted unless its metric is more than this share below the current one's.",
    )
    drift_psi_threshold: float = Field(
        0.2, gt=0, description="Population stability index at which a feature has drifted."
    )
    drift_ks_threshold: float = Field(
        0.15, gt=0, le=1, description="Kolmogorov-Smirnov statistic at which a numeric feature has drifted."
    )
    drift_min_rows: int = Field(100, gt=0, description="Fewest rows in each window for a drift test to be made.")
    freshness_max_hours: float = Field(
        48.0, gt=0, description="Alert when the newest order or event is older than this (business clock)."
    )
    reject_rate_threshold: float = Field(
        0.05, ge=0, le=1, description="Alert when an ingestion run rejects more than this share of its records."
    )
    quality_drop_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Alert when a realised rate falls below this share of its prediction (recommendation hits, "
        "campaign incremental conversions).",
    )
    alert_webhook_url: str | None = Field(
        None, description="Where alerts are POSTed as signed JSON (same signature as the webhook channel)."
    )
    alert_webhook_secret: SecretStr | None = Field(
        None, description="HMAC key of the alert webhook (at least 16 characters); required with alert_webhook_url."
    )
    metrics_public: bool = Field(
        False, description="Serve /metrics without an API key (for a Prometheus on a private network)."
    )
    fairness_attributes: list[str] = Field(
        default_factory=lambda: ["country", "age_band"],
        description="Customer attributes the fairness report groups by: columns of customers (country, language, "
        "city, ...) or age_band (from birth_year).",
    )
    fairness_min_ratio: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Smallest acceptable ratio of a group's offer rate (or discount depth, predicted benefit) to the "
        "best-treated group's (the four-fifths rule).",
    )
    fairness_min_group: int = Field(30, gt=0, description="Groups smaller than this are reported but not judged.")
    fairness_guard: str = Field(
        "flag",
        pattern="^(off|flag|block)$",
        description="At approval: off, flag (approve, raise an alert and record it) or block (refuse the approval).",
    )
    default_language: str = Field(
        "en",
        pattern="^(en|zh)$",
        description="Language of customers whose language is neither declared nor detectable.",
    )

    @field_validator("db_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("expected a URL such as duckdb:///marketloop.duckdb or postgresql://user@host/db")
        return value

    @field_validator("engine")
    @classmethod
    def _check_engine(cls, value: str) -> str:
        if value not in ("duckdb", "spark"):
            raise ValueError("expected duckdb or spark")
        return value

    @field_validator("schedules")
    @classmethod
    def _check_schedules(cls, value: dict[str, str]) -> dict[str, str]:
        from marketloop.clock import check_cron

        for name, expr in value.items():
            try:
                check_cron(name, expr)
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        return value

    @field_validator("clock")
    @classmethod
    def _check_clock(cls, value: str) -> str:
        from marketloop.clock import parse_clock

        parse_clock(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("MARKETLOOP_CONFIG", "marketloop.toml")
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        return (init_settings, env_settings, toml)

    def pii_key(self) -> bytes:
        """The pseudonymisation key, creating a random one in `secret_file` on first use."""
        return _secret(self.pii_secret, self.secret_file)

    def session_key(self) -> bytes:
        """The key signing dashboard sessions and unsubscribe links, created on first use."""
        return _secret(self.session_secret, self.session_secret_file)


def _secret(value: SecretStr | None, path: Path) -> bytes:
    """`value` when set, else the random key kept in `path` (created owner-only on first use)."""
    if value is not None:
        return value.get_secret_value().encode()
    if path.exists():
        return path.read_text().strip().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        # Create with owner-only permissions before writing the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip().encode()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key.encode()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from all sources; `overrides` (non-None values) win over everything."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"Invalid settings: {problems}",
            hint="Check MARKETLOOP_* environment variables and marketloop.toml "
            "(see `docs/configuration` in the README).",
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return load_settings()
