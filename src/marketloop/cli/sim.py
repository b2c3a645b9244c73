"""`marketloop sim`: generate a synthetic store with known ground truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from marketloop.cli.common import (
    DbOption,
    JsonOption,
    Progress,
    console,
    emit_json,
    open_cli_store,
    settings_for,
)
from marketloop.errors import InputError

app = typer.Typer(
    help="Synthetic store and customer simulator: realistic data with a known truth, so every model "
    "and campaign can be scored against an oracle.",
    no_args_is_help=True,
)


def _parse_start(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            f"--start: expected a date as YYYY-MM-DD, got {value!r}",
            field="start",
            value=value,
            hint="Try --start 2025-01-01.",
        ) from exc


@app.command("generate")
def generate_cmd(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Folder to write the Parquet files into (created; must be empty unless --force)."
        ),
    ],
    customers: Annotated[int, typer.Option("--customers", "-n", help="Number of customers.")] = 10_000,
    products: Annotated[int, typer.Option("--products", "-p", help="Number of products in the catalogue.")] = 500,
    days: Annotated[int, typer.Option("--days", "-d", help="Length of the simulated history in days.")] = 365,
    seed: Annotated[
        int, typer.Option("--seed", "-s", help="Random seed: the same seed and arguments give the same store.")
    ] = 0,
    start: Annotated[str, typer.Option("--start", help="First day of the history (YYYY-MM-DD).")] = "2025-01-01",
    chunk: Annotated[
        int,
        typer.Option(
            "--chunk",
            help="Customers simulated per chunk: bounds memory and sets the part files, does not change the data.",
        ),
    ] = 20_000,
    force: Annotated[bool, typer.Option("--force", help="Replace a simulated store already in --out.")] = False,
    load: Annotated[
        bool, typer.Option("--load", help="Also load the generated store into --db (validated ingestion).")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a synthetic store: products, customers (raw e-mail/phone, pseudonymised on load),
    consents, calendar, events, orders, order lines and reviews as Parquet in the canonical schema,
    plus the hidden truth in truth/ (for evaluation code, never for models).
    """
    from marketloop.sim import generate_store  # imported here: keeps `marketloop --help` fast

    first_day = _parse_start(start)
    with Progress("simulating customers", total=max(customers, 1)) as bar:

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(f"simulating customers ({stage})", completed=done, total=total)

        manifest = generate_store(
            out,
            customers=customers,
            products=products,
            days=days,
            seed=seed,
            start=first_day,
            chunk_customers=chunk,
            force=force,
            progress=progress,
        )
    payload = manifest.model_dump(mode="json")
    payload["events_per_second"] = round(manifest.rows["events"] / max(manifest.seconds, 1e-9))
    if load:
        payload["loaded"] = _load(Path(manifest.out_dir), manifest.files, db, quiet=json_out)
    if json_out:
        emit_json(payload)
        return
    table = Table(title=f"Simulated store in {manifest.out_dir} (seed {seed}, {manifest.start} to {manifest.end})")
    table.add_column("entity")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for entity, n in manifest.rows.items():
        table.add_row(entity, f"{n:,}", manifest.files[entity])
    console.print(table)
    console.print(
        f"{manifest.rows['events']:,} events in {manifest.seconds:.1f} s "
        f"({payload['events_per_second']:,} events/s). Ground truth for evaluation: {Path(manifest.out_dir) / 'truth'}"
    )


def _load(folder: Path, files: dict[str, str], db: str | None, *, quiet: bool) -> dict[str, int]:
    from marketloop.store.ingest import load_dataset

    settings = settings_for(db)
    with (
        open_cli_store(settings, create=True) as store,
        Progress("loading", total=len(files)) as bar,
    ):

        def progress(entity: str, done: int, total: int) -> None:
            bar.update(f"loading {entity}", completed=done)

        results = load_dataset(store, folder, files, settings=settings, progress=progress)
    loaded = {entity: sum(s.loaded for s in parts) for entity, parts in results.items()}
    rejected = sum(s.rejected for parts in results.values() for s in parts)
    if not quiet:
        console.print(
            f"Loaded into {settings.db_url}: "
            + ", ".join(f"{k} {v:,}" for k, v in loaded.items())
            + f"; {rejected:,} records rejected."
        )
    return loaded


@app.command("load")
def load_cmd(
    folder: Annotated[Path, typer.Argument(help="A folder written by `marketloop sim generate`.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Load a generated store into the database through the same validated ingestion as real data
    (one transaction per file; loading twice changes nothing)."""
    from marketloop.sim.generate import read_manifest

    manifest = read_manifest(folder)
    loaded = _load(folder, manifest.files, db, quiet=json_out)
    if json_out:
        emit_json({"folder": str(folder), "loaded": loaded})
