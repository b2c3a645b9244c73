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

#: Width of human output written to a pipe or a file: wide enough that no table or sentence is wrapped
#: (Rich would otherwise assume an 80-column terminal and wrap the groups table one word per line).
PIPED_WIDTH = 10_000


def configure_consoles() -> None:
    """Full width when stdout / stderr is not a terminal (unless COLUMNS says otherwise); called once per
    command by the root callback, so a test runner's or a pipe's stream is measured when the command runs."""
    columns = os.environ.get("COLUMNS", "")
    for c in (console, err_console):
        if columns.isdigit():
            c.width = int(columns)
        else:
            c.width = None  # Rich measures the terminal
            if not c.is_terminal:
                c.width = PIPED_WIDTH


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


class Progress:
    """Progress of a long command on stderr, in any mode: a live Rich bar (or spinner, without a total) on a
    terminal; when stderr is a pipe or a file, plain lines with the elapsed time, one when the step changes
    and at most one every :attr:`every` seconds while it advances, and a last line with the total time. So
    `eval campaign > out.txt` still says what it is doing, and `--json` output on stdout stays clean.
    """

    every = 10.0

    def __init__(self, description: str, total: float | None = None) -> None:
        self.description = description
        self.total = total
        self.completed = 0.0
        self._live = None
        self._task = None
        self._started = 0.0
        self._last_line = 0.0

    def __enter__(self) -> Progress:
        import time

        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._started = self._last_line = time.monotonic()
        if err_console.is_terminal:
            columns = [SpinnerColumn(), TextColumn("{task.description}")]
            if self.total is not None:
                columns += [BarColumn(), MofNCompleteColumn()]
            self._live = RichProgress(*columns, TimeElapsedColumn(), console=err_console, transient=True)
            self._live.__enter__()
            self._task = self._live.add_task(self.description, total=self.total)
        else:
            self._line()
        return self

    def update(
        self,
        description: str | None = None,
        *,
        advance: float = 0,
        completed: float | None = None,
        total: float | None = None,
    ) -> None:
        import time

        changed = description is not None and description != self.description
        if description is not None:
            self.description = description
        if total is not None:
            self.total = total
        self.completed = completed if completed is not None else self.completed + advance
        if self._live is not None:
            self._live.update(self._task, description=self.description, completed=self.completed, total=self.total)
        elif changed or time.monotonic() - self._last_line >= self.every:
            self._line()

    def advance(self, n: float = 1) -> None:
        self.update(advance=n)

    def _line(self, done: bool = False) -> None:
        import time

        now = time.monotonic()
        self._last_line = now
        count = f" ({self.completed:g}/{self.total:g})" if self.total is not None else ""
        text = "done" if done else self.description
        err_console.print(f"[{now - self._started:7.1f} s] {text}{count}", highlight=False, markup=False)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
        elif exc[0] is None:
            self._line(done=True)
