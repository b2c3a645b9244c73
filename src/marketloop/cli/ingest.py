"""`marketloop ingest ENTITY FILE` and `marketloop import DATASET FILE`: load data into the store."""

from __future__ import annotations

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
from marketloop.store.ingest import IngestSummary, load_path
from marketloop.store.ingest.entities import ENTITIES

import_app = typer.Typer(
    help="Import a known dataset layout (UCI Online Retail, CDNOW, Taobao, reviews, interactions).",
    no_args_is_help=True,
)

FileArg = Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines file (.gz allowed), or a folder of parts.")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl (default: from the file name).")]
DelimOpt = Annotated[str | None, typer.Option("--delimiter", help="CSV delimiter (default: detected).")]
EncodingOpt = Annotated[str, typer.Option("--encoding", help="CSV text encoding, e.g. latin-1.")]
MapOpt = Annotated[list[str] | None, typer.Option("--map", help="Column mapping COLUMN=FIELD (repeatable).")]


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items or []:
        if "=" not in item or not item.split("=", 1)[0] or not item.split("=", 1)[1]:
            raise InputError(
                f"--map {item!r} is not COLUMN=FIELD",
                field="map",
                value=item,
                hint="Example: --map CustomerID=customer_id",
            )
        column, target = item.split("=", 1)
        mapping[column.strip()] = target.strip()
    return mapping


def run_load(
    kind: str,
    path: Path,
    *,
    db: str | None,
    json_out: bool,
    fmt: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    mapping: dict[str, str] | None = None,
    options: dict | None = None,
) -> list[IngestSummary]:
    settings = settings_for(db)
    with (
        open_cli_store(settings, create=True) as store,
        Progress(f"loading {path.name} as {kind}"),
    ):
        summaries = load_path(
            store,
            kind,
            path,
            fmt=fmt,
            delimiter=delimiter,
            encoding=encoding,
            mapping=mapping,
            settings=settings,
            options=options,
        )
    if json_out:
        payload = [s.to_dict() for s in summaries]
        emit_json(payload[0] if len(payload) == 1 else {"parts": payload})
    else:
        for summary in summaries:
            print_summary(summary)
    return summaries


def print_summary(summary: IngestSummary) -> None:
    if summary.already_loaded:
        console.print(
            f"[yellow]{summary.source}[/] was already loaded as {summary.kind} "
            f"(load {summary.ingest_id[:12]}); nothing changed."
        )
        return
    table = Table(
        title=f"{summary.source} -> {summary.kind} ({summary.seconds:.2f} s, {summary.rows_read:,} records read)"
    )
    for column in ("table", "loaded", "already present", "updated", "rejected"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, counts in summary.tables.items():
        table.add_row(name, f"{counts.loaded:,}", f"{counts.skipped:,}", f"{counts.updated:,}", f"{counts.rejected:,}")
    console.print(table)
    if summary.rejected:
        reasons = ", ".join(f"{code}: {n:,}" for code, n in summary.rejected_by_reason.items())
        console.print(
            f"[red]{summary.rejected:,} records rejected[/] ({reasons}); "
            f"see table rejected_rows where ingest_id = '{summary.ingest_id}'."
        )
    if summary.ignored_columns:
        console.print(f"Ignored columns: {', '.join(summary.ignored_columns)}")


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        entity: Annotated[str, typer.Argument(help=f"One of: {', '.join(ENTITIES)}.")],
        file: FileArg,
        db: DbOption = None,
        fmt: FormatOpt = None,
        delimiter: DelimOpt = None,
        encoding: EncodingOpt = "utf-8",
        map_: MapOpt = None,
        json_out: JsonOption = False,
    ) -> None:
        """Load a file of one entity (customers, products, events, orders, order_lines, reviews, consents,
        calendar). Columns are matched to fields by name (case and underscores ignored) or by --map.
        Invalid records are kept in rejected_rows with line, field, value and reason; loading the same
        file twice changes nothing; a failed load leaves no partial data."""
        if entity not in ENTITIES:
            raise InputError(
                f"Unknown entity {entity!r}",
                field="entity",
                value=entity,
                hint=f"Use one of: {', '.join(ENTITIES)} (or `marketloop import` for dataset layouts).",
            )
        run_load(
            entity,
            file,
            db=db,
            json_out=json_out,
            fmt=fmt,
            delimiter=delimiter,
            encoding=encoding,
            mapping=parse_mapping(map_),
        )


@import_app.command("uci-online-retail")
def import_uci(
    file: FileArg,
    db: DbOption = None,
    currency: str = typer.Option("GBP", help="Currency of UnitPrice."),
    json_out: JsonOption = False,
) -> None:
    """UCI Online Retail (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
    Country). C invoices become returns, rows without CustomerID guest orders, POST/M/BANK CHARGES/...
    non-product items; stock and bad-debt adjustments are kept out with a reason."""
    run_load("uci-online-retail", file, db=db, json_out=json_out, options={"currency": currency})


@import_app.command("cdnow")
def import_cdnow(file: FileArg, db: DbOption = None, json_out: JsonOption = False) -> None:
    """CDNOW purchases (whitespace-separated: customer, YYYYMMDD date, number of CDs, dollar value)."""
    run_load("cdnow", file, db=db, json_out=json_out)


@import_app.command("taobao")
def import_taobao(file: FileArg, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Taobao user behaviour (user_id, item_id, category_id, behavior_type pv/fav/cart/buy, epoch timestamp)."""
    run_load("taobao", file, db=db, json_out=json_out)


@import_app.command("reviews")
def import_reviews(file: FileArg, db: DbOption = None, map_: MapOpt = None, json_out: JsonOption = False) -> None:
    """Product reviews with a 1-5 rating and text. The women's clothing reviews layout is recognised;
    map other layouts with --map COLUMN=FIELD (fields: review_id, product_id, customer_id, rating, title,
    body, created_at, department, class_name)."""
    run_load("reviews", file, db=db, json_out=json_out, mapping=parse_mapping(map_))


@import_app.command("interactions")
def import_interactions(
    file: FileArg,
    user_col: str = typer.Option(..., "--user-col", help="Column with the customer id."),
    item_col: str = typer.Option(..., "--item-col", help="Column with the product id."),
    time_col: str = typer.Option(..., "--time-col", help="Column with the timestamp (ISO or epoch seconds)."),
    rating_col: str | None = typer.Option(None, "--rating-col", help="Optional rating / weight column."),
    event_type: str = typer.Option("purchase", "--event-type", help="Event type to record (view, purchase, ...)."),
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Generic user-item interactions, stored as events (plus customers and products)."""
    run_load(
        "interactions",
        file,
        db=db,
        json_out=json_out,
        options={
            "user_col": user_col,
            "item_col": item_col,
            "time_col": time_col,
            "rating_col": rating_col,
            "event_type": event_type,
        },
    )
