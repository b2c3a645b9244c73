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
