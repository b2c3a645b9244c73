"""Entry point of the `marketloop` command.

Errors raised on purpose (``MarketLoopError``) are printed as one message plus a hint and end with
the error's exit code; tracebacks appear only with ``--debug`` or ``MARKETLOOP_DEBUG=1``.
"""

from __future__ import annotations

import logging
import os
import sys

import typer
from rich.markup import escape

from marketloop import __version__
from marketloop.cli import ads as ads_cmd
from marketloop.cli import campaign as campaign_cmd
from marketloop.cli import content as content_cmd
from marketloop.cli import customers as customers_cmd
from marketloop.cli import db as db_cmd
from marketloop.cli import delivery as delivery_cmd
from marketloop.cli import demo as demo_cmd
from marketloop.cli import evaluate as evaluate_cmd
from marketloop.cli import forecast as forecast_cmd
from marketloop.cli import ingest as ingest_cmd
from marketloop.cli import privacy as privacy_cmd
from marketloop.cli import recs as recs_cmd
from marketloop.cli import service as service_cmd
from marketloop.cli import sim as sim_cmd
from marketloop.cli.common import configure_consoles, err_console
from marketloop.errors import MarketLoopError

app = typer.Typer(
    name="marketloop",
    help="MarketLoop: marketing automation for online stores, driven by models you can inspect.\n\n"
    "Collect your store's data, understand customers, recommend products, plan campaigns, "
    "deliver and measure them. Every command that touches data takes --db URL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"marketloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    configure_consoles()
    if debug:
        os.environ["MARKETLOOP_DEBUG"] = "1"
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


ingest_cmd.register(app)
app.add_typer(ingest_cmd.import_app, name="import")
app.add_typer(privacy_cmd.app, name="privacy")
app.add_typer(db_cmd.app, name="db")
demo_cmd.register(app)
app.add_typer(evaluate_cmd.app, name="eval")
app.add_typer(sim_cmd.app, name="sim")
app.add_typer(customers_cmd.app)
app.add_typer(recs_cmd.app, name="recs")
app.add_typer(forecast_cmd.app, name="forecast")
app.add_typer(ads_cmd.app, name="ads")
content_cmd.register(app)
app.add_typer(campaign_cmd.app, name="campaign")
delivery_cmd.register(campaign_cmd.app)
service_cmd.register(app)


def run() -> None:
    """Console-script entry: run the app and translate MarketLoop errors into clean messages."""
    try:
        app()
    except MarketLoopError as exc:
        if os.environ.get("MARKETLOOP_DEBUG") in ("1", "true", "yes"):
            raise
        err_console.print(f"[bold red]Error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
        if exc.hint:
            err_console.print(f"[yellow]Hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
