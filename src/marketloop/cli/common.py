"""Options and output helpers shared by every command group."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from marketloop.config import Settings, load_settings

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
SepOption = Annotated[
    str | None,
    typer.Option(
        "--sep",
        "--delimiter",
        help="Separator of a delimited text file: comma, semicolon (';'), tab ('\\t') or pipe ('|'). "
        "Default: comma (tab for .tsv); a file that does not read that way gets an error naming the separator "
        "its header looks like it uses.",
        show_default=False,
    ),
]


def settings_for(db: str | None = None) -> Settings:
    return load_settings(db_url=db)


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    sys.stdout.flush()
