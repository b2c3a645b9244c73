"""Options and output helpers shared by every command group."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from marketloop.config import DEFAULT_DB_URL, Settings, load_settings

if TYPE_CHECKING:
    from marketloop.store.engine import Store

#: Human output goes to stdout; progress and diagnostics to stderr so `--json` output stays clean.
console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store URL (duckdb:///file.duckdb, postgresql://user@host/db, mysql://user@host/db). "
        "Default: MARKETLOOP_DB_URL or marketloop.toml, else duckdb:///marketloop.duckdb.",
        envvar=None,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object (for scripts) instead of tables.")]
CreateOption = Annotated[
    bool,
    typer.Option(
        "--create",
        help="Create the store when it does not exist yet (otherwise a missing store is an error, "
        "so a mistyped --db never makes a new empty one).",
    ),
]


def settings_for(db: str | None = None) -> Settings:
    return load_settings(db_url=db)


def open_cli_store(target: str | Settings | None = None, *, create: bool = False) -> Store:
    """The one way commands open their store: ``target`` is the ``--db`` value (None: from the settings) or
    settings already loaded. Commands that load data (``ingest``, ``import``, ``sim generate --load``,
    ``sim load``, ``db migrate``) pass ``create=True``; every other command opens only an existing store,
    so a wrong path is an error naming it (with where the URL came from) and no file is left behind."""
    from marketloop.errors import NotFoundError
    from marketloop.store.engine import open_store

    settings = target if isinstance(target, Settings) else settings_for(target)
    try:
        return open_store(settings.db_url, create=create)
    except NotFoundError as exc:
        configured = load_settings().db_url  # what the URL is without a --db override
        if isinstance(target, str) or settings.db_url != configured:
            origin = "--db"
        elif os.environ.get("MARKETLOOP_DB_URL"):
            origin = "MARKETLOOP_DB_URL"
        elif configured != DEFAULT_DB_URL:
            origin = os.environ.get("MARKETLOOP_CONFIG", "marketloop.toml")
        else:
            origin = "the default (no --db, MARKETLOOP_DB_URL or marketloop.toml given)"
        raise NotFoundError(f"{exc.message} (store URL from {origin})", hint=exc.hint) from None


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    sys.stdout.flush()
