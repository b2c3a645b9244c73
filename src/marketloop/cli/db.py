"""`marketloop db`: create or upgrade the store's schema and show what it holds."""

from __future__ import annotations

import typer
from rich.table import Table

from marketloop.cli.common import DbOption, JsonOption, console, emit_json, open_cli_store, settings_for
from marketloop.store.engine import redact
from marketloop.store.migrations import LATEST_VERSION, current_version

app = typer.Typer(help="Create, upgrade and inspect the store.", no_args_is_help=True)


@app.command("migrate")
def migrate_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Create the store (a new DuckDB file, or MarketLoop's tables in an empty PostgreSQL / MySQL database)
    or apply pending migrations to an existing one (every command upgrades the store it opens)."""
    settings = settings_for(db)
    with open_cli_store(settings, create=True) as store:
        version = current_version(store)
        payload = {"db": redact(store.url), "schema_version": version, "latest": LATEST_VERSION}
    if json_out:
        emit_json(payload)
    else:
        console.print(f"Store {payload['db']} is at schema version {version} (latest {LATEST_VERSION}).")


@app.command("status")
def status_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Row counts per table and the schema version."""
    settings = settings_for(db)
    with open_cli_store(settings) as store:
        counts = store.counts()
        payload = {
            "db": redact(store.url),
            "dialect": store.dialect,
            "schema_version": current_version(store),
            "tables": counts,
        }
    if json_out:
        emit_json(payload)
        return
    table = Table(title=f"{payload['db']} (schema v{payload['schema_version']})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
