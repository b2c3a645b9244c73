"""Settings: defaults, environment, marketloop.toml, explicit overrides, and clear errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from marketloop.config import DEFAULT_DB_URL, load_settings
from marketloop.errors import ConfigError, StoreError
from marketloop.store import open_store, schema
from marketloop.store.migrations import LATEST_VERSION


def test_sources_in_priority_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MARKETLOOP_DB_URL")
    assert load_settings().db_url == DEFAULT_DB_URL
    toml = tmp_path / "marketloop.toml"
    toml.write_text('db_url = "duckdb:///from-toml.duckdb"\nmax_text_length = 500\n')
    monkeypatch.setenv("MARKETLOOP_CONFIG", str(toml))
    assert load_settings().db_url == "duckdb:///from-toml.duckdb"
    assert load_settings().max_text_length == 500
    monkeypatch.setenv("MARKETLOOP_DB_URL", "duckdb:///from-env.duckdb")
    assert load_settings().db_url == "duckdb:///from-env.duckdb"
    assert load_settings(db_url="duckdb:///explicit.duckdb").db_url == "duckdb:///explicit.duckdb"


@pytest.mark.parametrize(
    ("env", "value", "text"),
    [
        ("MARKETLOOP_DB_URL", "marketloop.duckdb", "db_url: Value error, expected a URL"),
        ("MARKETLOOP_MAX_TEXT_LENGTH", "-3", "max_text_length: Input should be greater than 0"),
        ("MARKETLOOP_PSEUDONYMISE_PII", "perhaps", "pseudonymise_pii: Input should be a valid boolean"),
    ],
)
def test_invalid_settings_name_the_setting(monkeypatch: pytest.MonkeyPatch, env: str, value: str, text: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert text in info.value.message
    assert "marketloop.toml" in info.value.hint


def test_unknown_toml_key_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "marketloop.toml"
    toml.write_text('db_ulr = "duckdb:///x.duckdb"\n')
    monkeypatch.setenv("MARKETLOOP_CONFIG", str(toml))
    with pytest.raises(ConfigError, match="db_ulr"):
        load_settings()


def test_generated_pii_key_is_private_and_stable(tmp_path: Path) -> None:
    settings = load_settings(secret_file=tmp_path / "keys" / "pii.key")
    key = settings.pii_key()
    assert len(key) == 64 and settings.pii_key() == key
    mode = stat.S_IMODE(os.stat(tmp_path / "keys" / "pii.key").st_mode)
    assert mode == 0o600
    assert load_settings(pii_secret="s3cret").pii_key() == b"s3cret"
    assert "s3cret" not in repr(load_settings(pii_secret="s3cret"))


def test_a_store_from_a_newer_version_is_refused(store_url: str) -> None:
    with open_store(store_url) as store, store.begin() as conn:
        conn.execute(
            schema.schema_migrations.insert().values(
                version=LATEST_VERSION + 1, name="future", applied_at=__import__("datetime").datetime(2030, 1, 1)
            )
        )
    with pytest.raises(StoreError, match="newer than this MarketLoop knows"):
        open_store(store_url)
