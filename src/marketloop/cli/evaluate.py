"""`marketloop eval`: evaluation commands users run on their own data before trusting the numbers.

Each capability adds its commands to :data:`app` from its own CLI module (customers, recs, content,
strategy, delivery), so this module only holds the group.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Evaluate models on your own data (or the public datasets) before trusting them. "
    "Every command prints a table, or one JSON object with --json.",
    no_args_is_help=True,
)
