"""`marketloop privacy`: erase a customer everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

from marketloop.cli.common import DbOption, JsonOption, console, emit_json, open_cli_store, settings_for
from marketloop.store.privacy import forget

app = typer.Typer(help="Privacy: erase a customer's personal and behavioural data.", no_args_is_help=True)


@app.command("forget")
def forget_cmd(
    customer_id: Annotated[str, typer.Argument(help="The customer's id in the store.")],
    db: DbOption = None,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: JsonOption = False,
) -> None:
    """Erase CUSTOMER_ID from every table (profile, contact hashes, events, orders and their lines,
    reviews, consents, sends and outcomes, rejected rows naming it) in one transaction, and write an
    audit record that names the customer only by a keyed hash."""
    settings = settings_for(db)
    if not yes and not json_out:
        typer.confirm(f"Erase every record of customer {customer_id!r}? This cannot be undone", abort=True)
    with open_cli_store(settings) as store:
        result = forget(store, customer_id, key=settings.pii_key(), actor="cli")
    deleted = {k: v for k, v in result.deleted.items() if v}
    if json_out:
        emit_json({"customer_ref": result.customer_ref, "rows_deleted": deleted, "total": result.total})
        return
    console.print(
        f"Erased {result.total:,} rows about the customer: " + ", ".join(f"{k} {v}" for k, v in deleted.items())
    )
    console.print(f"Audit record written (customer reference {result.customer_ref}).")
