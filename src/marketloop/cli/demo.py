"""`marketloop demo`: generate, load, analyse and report on a synthetic store, with no servers."""

from __future__ import annotations

from pathlib import Path

import typer

from marketloop.cli.common import JsonOption, Progress, console, emit_json
from marketloop.errors import InputError


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(
            Path("demo"), "--out", help="Folder for the store, the generated data and the report."
        ),
        customers: int = typer.Option(20_000, help="Simulated customers."),
        products: int = typer.Option(400, help="Products in the catalogue."),
        days: int = typer.Option(365, help="Days of history."),
        seed: int = typer.Option(7, help="Random seed (same seed, same store)."),
        json_out: JsonOption = False,
    ) -> None:
        """Run MarketLoop end to end on a synthetic store in ./demo (DuckDB, no servers, no downloads)
        and write demo/report.html with charts."""
        from marketloop.demo import DemoOptions, run_demo

        for name, value in (("customers", customers), ("products", products), ("days", days)):
            if value <= 0:
                raise InputError(
                    f"--{name} must be a positive number, got {value}",
                    field=name,
                    value=value,
                    hint=f"Pass e.g. --{name} 1000.",
                )
        with Progress("starting the demo") as status:
            ctx = run_demo(
                DemoOptions(out_dir=out, customers=customers, products=products, days=days, seed=seed),
                progress=lambda message: status.update(message),
            )
        if json_out:
            emit_json(ctx.summary)
            return
        k = ctx.summary["kpis"]
        console.print(
            f"[bold]Demo store[/]: {customers:,} customers, {k['orders']:,} orders, revenue {k['revenue']:,.0f}, "
            f"repeat rate {k['repeat_rate']:.1%}."
        )
        for line in ctx.summary.get("highlights", []):
            console.print(f"- {line}")
        console.print(f"Report: [bold]{ctx.summary['report']}[/]")
        console.print(f"Explore the store: marketloop db status --db {ctx.summary['db_url']}")
        console.print("Open the dashboard: run")
        console.print(f"  {ctx.summary['serve_command']}", highlight=False, soft_wrap=True)
        console.print(
            f"then open {ctx.summary['dashboard_url']} and log in with the admin key in "
            f"{ctx.summary['admin_key_file']}.",
            highlight=False,
            soft_wrap=True,
        )
        console.print("Timings (s): " + ", ".join(f"{k} {v}" for k, v in ctx.timings.items()))
