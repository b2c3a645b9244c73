"""`marketloop ads ...` (audience, budget) and `marketloop eval ads`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from marketloop.cli import evaluate
from marketloop.cli.common import DbOption, JsonOption, console, emit_json, open_cli_store

app = typer.Typer(
    help="Paid ads: customer-list audiences for Google Ads / Meta (hashed, consent-filtered), "
    "and budget splits across ad sets by predicted incremental return.",
    no_args_is_help=True,
)


@app.command("audience")
def audience(
    name: Annotated[str, typer.Argument(help="What the audience is called.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    platform: Annotated[str, typer.Option(help="google (Customer Match) or meta (custom audience).")] = "google",
    kind: Annotated[
        str, typer.Option(help="segment, lookalike_seed (top CLV) or suppression (recent buyers).")
    ] = "segment",
    segment: Annotated[list[str] | None, typer.Option(help="RFM segment (repeatable; kind segment).")] = None,
    stage: Annotated[list[str] | None, typer.Option(help="Lifecycle stage (repeatable; kind segment).")] = None,
    top_share: Annotated[
        float, typer.Option(min=0.001, max=1.0, help="Share of customers by CLV (lookalike seed).")
    ] = 0.1,
    recent_days: Annotated[int, typer.Option(min=1, max=730, help="Ordered within this many days (suppression).")] = 30,
    consent_channel: Annotated[str, typer.Option(help="Consent channel that allows ad matching.")] = "ads",
    contacts: Annotated[
        Path | None, typer.Option(help="The shop's contact export (customer_id,email,phone); default: the store.")
    ] = None,
    country_code: Annotated[
        str | None, typer.Option(help="Country calling code for phone numbers written without one (e.g. 44).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a hashed customer list (SHA-256 of the normalised e-mail / phone) in the platform's format.
    Only customers with consent on --consent-channel are listed; erased customers are never listed."""
    from marketloop.ads.audiences import AudienceSpec, export_audience
    from marketloop.ads.contacts import FileContacts, StoreContacts
    from marketloop.errors import InputError

    try:
        spec = AudienceSpec(
            name=name,
            kind=kind,
            segments=segment or [],
            lifecycle_stages=stage or [],
            top_share=top_share,
            recent_days=recent_days,
            consent_channel=consent_channel,
        )
    except ValueError as exc:
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ("kind",), "msg": str(exc)}
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"--{where.replace('_', '-')}: {first['msg']}", field=where, hint="See marketloop ads audience --help."
        ) from None
    store = open_cli_store(db)
    source = FileContacts(contacts, country_code) if contacts else StoreContacts(store, country_code)
    result = export_audience(store, spec, source, platform, out)
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(
        f"Wrote {result.rows} rows to {out} ({platform}; {result.selected} selected, "
        f"{result.unconsented} without consent and {result.no_contact} without a usable address left out)"
    )


@app.command("budget")
def budget(
    results: Annotated[Path, typer.Argument(help="CSV of results so far: ad_set, spend, value (one row per period).")],
    amount: Annotated[float, typer.Option("--budget", min=0.01, help="Budget for the next period.")],
    min_spend: Annotated[float, typer.Option(min=0, help="Least spend per ad set.")] = 0.0,
    max_spend: Annotated[float | None, typer.Option(min=0, help="Most spend per ad set.")] = None,
    min_return: Annotated[float, typer.Option(min=0, help="Fund only ad sets whose first unit returns more.")] = 0.0,
    as_json: JsonOption = False,
) -> None:
    """Split a budget across ad sets by their estimated diminishing-returns curves (re-estimated from every
    result in the file)."""
    import pandas as pd

    from marketloop.ads.budget import BudgetAllocator
    from marketloop.errors import InputError

    if not results.is_file():
        raise InputError(
            f"RESULTS: file not found: {results}",
            field="results",
            value=str(results),
            hint="A CSV with ad_set,spend,value.",
        )
    frame = pd.read_csv(results)
    plan = BudgetAllocator(min_return=min_return).fit(frame).allocate(amount, min_spend=min_spend, max_spend=max_spend)
    if as_json:
        emit_json({"budget": amount, "allocation": plan.round(4).to_dict(orient="records")})
        return
    table = Table(title=f"Budget {amount:,.2f} across {len(plan)} ad sets")
    for col in ("ad_set", "spend", "predicted_value", "marginal_return", "observations"):
        table.add_column(col, justify="left" if col == "ad_set" else "right")
    for row in plan.itertuples(index=False):
        table.add_row(
            row.ad_set,
            f"{row.spend:,.2f}",
            f"{row.predicted_value:,.2f}",
            f"{row.marginal_return:.3f}",
            str(row.observations),
        )
    console.print(table)


@evaluate.app.command("ads")
def eval_ads(
    logs: Annotated[Path, typer.Option("--logs", help="The Open Bandit Dataset folder (random/ and bts/).")],
    test_days: Annotated[int, typer.Option(min=1, max=6, help="Last days held out for scoring.")] = 2,
    as_json: JsonOption = False,
) -> None:
    """Ad response model on real impressions (Open Bandit, ZOZOTOWN): log loss and AUC on held-out days
    against the base rate."""
    from marketloop.ads.response import evaluate_open_bandit

    result = evaluate_open_bandit(logs, test_days=test_days)
    if as_json:
        emit_json(result)
        return
    table = Table(
        title=f"Click model, {result['test_impressions']:,} held-out impressions ({', '.join(result['test_days'])})"
    )
    table.add_column("model")
    table.add_column("log loss", justify="right")
    table.add_column("AUC", justify="right")
    table.add_row(
        "logistic (calibrated)",
        f"{result['log_loss']:.5f}",
        f"{result['auc']:.3f}" if result["auc"] is not None else "-",
    )
    table.add_row("base rate", f"{result['log_loss_base_rate']:.5f}", "0.500")
    console.print(table)
