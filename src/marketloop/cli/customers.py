"""Customer intelligence commands: `marketloop analyze`, `segments`, `customers show` and the
`eval clv` / `eval churn` evaluations."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from marketloop.cli import evaluate
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

app = typer.Typer(help="Understand customers: segments, value, churn risk, next order, interests.")
customers_app = typer.Typer(help="Look up customer profiles.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"--{name} {value!r} is not a date (expected YYYY-MM-DD)",
            field=name,
            value=value,
            hint=f"Write --{name} 2011-09-10.",
        ) from None


def _required_date(value: str, name: str) -> dt.date:
    parsed = _date(value, name)
    assert parsed is not None  # noqa: S101 - typer makes the option required
    return parsed


@app.command("analyze")
def analyze_cmd(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day the profiles describe (default: the last order's day).")
    ] = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=7, help="Churn horizon H: no purchase in the next H days.")
    ] = 90,
    clv_horizon_days: Annotated[
        int, typer.Option("--clv-horizon-days", min=1, help="Horizon of the lifetime value.")
    ] = 365,
    model: Annotated[str, typer.Option("--model", help="Purchase model: bgnbd or paretonbd.")] = "bgnbd",
    method: Annotated[
        str, typer.Option("--method", help="map (point estimate, fast) or mcmc (full posterior).")
    ] = "map",
    rfm_rules: Annotated[Path | None, typer.Option("--rfm-rules", help="TOML file with RFM segment rules.")] = None,
    high_value_share: Annotated[
        float, typer.Option("--high-value-share", help="Share of customers flagged high-value.")
    ] = 0.10,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Recompute even when the orders, events, products and settings are those of the last refresh.",
        ),
    ] = False,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="Batch engine: duckdb (one machine, default) or spark (PySpark: local[N] or a cluster, "
            "see the spark_* settings). Both give the same profiles.",
        ),
    ] = None,
    input_dir: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="With --engine spark: read orders, order_lines, events and products from this folder of "
            "Parquet / Delta tables (a path or an object-store URL) instead of the store; profiles go to --db.",
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Refresh the customer profiles (RFM, value, churn risk, next order, propensity, interests, lifecycle
    stage). A refresh whose inputs have not changed since the last one is skipped (see --force)."""
    from marketloop.customers.profile import STEPS, AnalyzeConfig
    from marketloop.customers.rfm import RFMConfig
    from marketloop.engines import check_engine
    from marketloop.engines.profiles import analyze

    config = AnalyzeConfig(
        churn_horizon_days=horizon_days,
        clv_horizon_days=clv_horizon_days,
        model=model,
        method=method,
        high_value_share=high_value_share,
        rfm=RFMConfig.from_toml(rfm_rules) if rfm_rules else RFMConfig(),
    )
    day = _date(as_of, "as-of")
    settings = settings_for(db)
    chosen = check_engine(engine or settings.engine)
    with open_cli_store(settings) as store:
        with Progress("reading orders", total=len(STEPS)) as bar:
            position = {name: i for i, name in enumerate(STEPS)}

            def progress(step: str) -> None:
                nxt = position.get(step, 0) + 1
                bar.update(STEPS[nxt] if nxt < len(STEPS) else "writing profiles", completed=nxt)

            report = analyze(
                store, day, config, progress, force=force, engine=chosen, source=input_dir, settings=settings
            )
    if json_out:
        emit_json(report)
        return
    if report.get("skipped"):
        console.print(
            f"Profiles of {report['customers']:,} customers as of {report['as_of']} are up to date "
            f"(computed {str(report['computed_at'])[:19]}): {report['reason']}. Nothing to do; "
            "pass --force to recompute."
        )
        return
    churn = report["churn"]
    console.print(f"Profiles of {report['customers']:,} customers as of {report['as_of']} written.")
    console.print(
        f"Lifetime value: {report['clv']['model']} ({report['clv']['method']}), "
        f"parameters {', '.join(f'{k}={v:.3g}' for k, v in report['clv']['params'].items())}."
    )
    validation = ", ".join(f"{name} ROC AUC {m['roc_auc']:.3f}" for name, m in churn["validation"].items())
    console.print(
        f"Churn in {churn['horizon_days']} days: [bold]{churn['winner']}[/] won validation"
        + (f" ({validation})" if validation else "")
        + "."
    )
    propensity = report["propensity"]
    console.print(f"Purchase in {propensity['horizon_days']} days: [bold]{propensity['winner']}[/] won validation.")
    for name, part in (("churn", churn), ("propensity", propensity)):
        for note in part["notes"]:
            console.print(f"  {name}: {note}")
    data = report["data"]
    console.print(f"Guest orders left out of customer models: {data['guest_orders']:,}; returns: {data['returns']:,}.")
    console.print("Run `marketloop segments` for the segment table.")


@app.command("segments")
def segments_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Segment sizes, revenue share, value and churn risk per RFM segment (from the last analyze)."""
    from marketloop.customers.profile import churn_bands, load_profiles
    from marketloop.customers.rfm import segment_summary

    settings = settings_for(db)
    with open_cli_store(settings) as store:
        profiles = load_profiles(
            store,
            ["customer_id", "segment", "revenue", "clv", "churn_probability", "churn_band", "lifecycle_stage", "as_of"],
        )
        band_report = churn_bands(store)
    if profiles.empty:
        raise InputError(
            "there are no customer profiles yet",
            field="customer_profiles",
            value=0,
            hint="Run `marketloop analyze` first.",
        )
    import pandas as pd

    from marketloop.customers.churn import BAND_NAMES
    from marketloop.customers.lifecycle import STAGES

    summary = segment_summary(profiles)
    counts = profiles["churn_band"].value_counts()
    bands = {name: int(counts[name]) for name in BAND_NAMES if name in counts.index}
    # profiles written before migration 8 have no stage until the next `marketloop analyze`
    staged = profiles["lifecycle_stage"].value_counts()
    stages = {name: int(staged[name]) for name in STAGES if name in staged.index}
    as_of = pd.Timestamp(profiles["as_of"].iloc[0]).date()
    if json_out:
        emit_json(
            {
                "as_of": str(as_of),
                "customers": len(profiles),
                "segments": summary.round(4).to_dict("records"),
                "churn_bands": bands,
                "churn": band_report,
                "lifecycle_stages": stages,
            }
        )
        return
    table = Table(title=f"RFM segments as of {as_of} ({len(profiles):,} customers)")
    for name in ("segment", "customers", "share", "revenue share", "mean revenue", "mean CLV", "mean churn risk"):
        table.add_column(name, justify="left" if name == "segment" else "right")
    for row in summary.itertuples():
        table.add_row(
            row.segment,
            f"{row.customers:,}",
            f"{row.share:.1%}",
            f"{row.revenue_share:.1%}",
            f"{row.mean_revenue:,.2f}",
            f"{row.mean_clv:,.2f}",
            f"{row.mean_churn:.1%}",
        )
    console.print(table)
    horizon = band_report.get("horizon_days") or "H"
    console.print(
        f"Churn risk = the chance of no order in the next {horizon} days. Churn-risk bands: "
        + ", ".join(f"{k} {v:,}" for k, v in bands.items())
    )
    if any(b.get("observed_rate") is not None for b in band_report.get("bands", [])):
        console.print(
            f"Bands are quantiles of the churn risk (the riskiest tenth is very_high); churn observed in each band "
            f"on the snapshot {band_report['bands'][0].get('observed_on') or '-'}: "
            + ", ".join(
                f"{b['band']} {b['observed_rate']:.0%}"
                for b in band_report["bands"]
                if b.get("observed_rate") is not None
            )
            + "."
        )
    if stages:
        console.print("Lifecycle stages: " + ", ".join(f"{k} {v:,}" for k, v in stages.items()))


@customers_app.command("show")
def show_cmd(
    customer_id: Annotated[str, typer.Argument(help="Customer id.")], db: DbOption = None, json_out: JsonOption = False
) -> None:
    """Print one customer's profile."""
    from marketloop.customers.profile import churn_bands, get_profile

    settings = settings_for(db)
    with open_cli_store(settings) as store:
        profile = get_profile(store, customer_id)
        meaning = churn_bands(store)
    for key in ("interests_json", "churn_reasons_json", "propensity_reasons_json"):
        profile[key.removesuffix("_json")] = json.loads(profile.pop(key) or "null")
    if json_out:
        emit_json(profile | {"churn_definition": meaning.get("definition")})
        return
    table = Table(
        title=f"Customer {customer_id} ({profile.get('lifecycle_stage') or 'stage not computed yet'})",
        show_header=False,
    )
    table.add_column("field")
    table.add_column("value")
    for key, value in profile.items():
        if isinstance(value, float):
            value = f"{value:,.3f}"
        elif isinstance(value, list | dict):
            value = _describe(value)
        table.add_row(key, str(value))
    console.print(table)
    if meaning:
        seen = next((b for b in meaning["bands"] if b["band"] == profile.get("churn_band")), {})
        console.print(
            f"churn_probability: the chance of {meaning['definition']} ({meaning['model']})"
            + (
                f"; {seen['observed_rate']:.0%} of the {profile['churn_band']} band churned on the last labelled snapshot"
                if seen.get("observed_rate") is not None
                else ""
            )
            + ". p_alive: the chance the customer has not lapsed for good (BG/NBD), never below 1 - churn_probability.",
            highlight=False,
        )


def _describe(value: list | dict) -> str:
    if isinstance(value, dict):
        return (
            "; ".join(
                f"{kind}: " + ", ".join(f"{t['value']} ({t['share']:.0%})" for t in tags)
                for kind, tags in value.items()
            )
            or "-"
        )
    return "; ".join(f"{r['label']} = {r['value']}" for r in value) or "-"


# ------------------------------------------------------------------------------------ evaluations
TransactionsOption = Annotated[
    Path, typer.Option("--transactions", help="Transactions file (CSV, Parquet, CDNOW text).")
]
FormatOption = Annotated[str, typer.Option("--format", help="cdnow, uci or generic.")]
CustomerCol = Annotated[str, typer.Option("--customer-col", help="generic format: customer id column.")]
DateCol = Annotated[str, typer.Option("--date-col", help="generic format: date or timestamp column.")]
AmountCol = Annotated[str, typer.Option("--amount-col", help="generic format: order amount column.")]


def _read(path: Path, fmt: str, customer_col: str, date_col: str, amount_col: str):  # noqa: ANN202
    from marketloop.customers.transactions import GenericColumns, read_transactions

    return read_transactions(path, fmt, GenericColumns(customer_col, date_col, amount_col))


@evaluate.app.command("clv")
def eval_clv_cmd(
    transactions: TransactionsOption,
    calibration_end: Annotated[str, typer.Option("--calibration-end", help="Last day of the calibration period.")],
    holdout_end: Annotated[str, typer.Option("--holdout-end", help="Last day of the holdout period.")],
    fmt: FormatOption = "generic",
    model: Annotated[str, typer.Option("--model", help="bgnbd or paretonbd.")] = "bgnbd",
    method: Annotated[str, typer.Option("--method", help="map or mcmc.")] = "map",
    priors: Annotated[str, typer.Option("--priors", help="flat (maximum likelihood) or default.")] = "flat",
    time_unit_days: Annotated[
        float, typer.Option("--time-unit-days", help="Model time unit in days (7 = weeks).")
    ] = 7.0,
    customer_col: CustomerCol = "customer_id",
    date_col: DateCol = "date",
    amount_col: AmountCol = "amount",
    json_out: JsonOption = False,
) -> None:
    """Fit BG/NBD + Gamma-Gamma on a calibration period and check repeat purchases in the holdout."""
    from marketloop.customers.clv import CLVModel
    from marketloop.customers.evaluation import evaluate_clv

    tx = _read(transactions, fmt, customer_col, date_col, amount_col)
    with Progress("fitting the purchase and spend models"):
        result = evaluate_clv(
            tx,
            _required_date(calibration_end, "calibration-end"),
            _required_date(holdout_end, "holdout-end"),
            CLVModel(model=model, method=method, priors=priors, time_unit_days=time_unit_days),
        )
    if json_out:
        emit_json(result)
        return
    hold, mae = result["holdout"], result["per_customer_mae"]
    console.print(
        f"{result['model']} fitted on {result['customers']:,} customers in {result['fit_seconds']} s: "
        + ", ".join(f"{k}={v}" for k, v in result["params"].items())
    )
    console.print(
        f"Holdout repeat purchases: predicted {hold['predicted_repeat_purchases']:,} vs actual "
        f"{hold['actual_repeat_purchases']:,.0f} ({hold['relative_error']:+.1%}); naive {hold['naive_predicted']:,}"
    )
    console.print(
        f"Per-customer MAE: model {mae['model']:.3f}, naive {mae['naive']:.3f} ({mae['improvement']:.1%} lower)"
    )


@evaluate.app.command("churn")
def eval_churn_cmd(
    transactions: TransactionsOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Snapshot day scored; the outcome is the next H days.")],
    horizon_days: Annotated[int, typer.Option("--horizon-days", min=1, help="Churn horizon H in days.")] = 90,
    fmt: FormatOption = "generic",
    customer_col: CustomerCol = "customer_id",
    date_col: DateCol = "date",
    amount_col: AmountCol = "amount",
    json_out: JsonOption = False,
) -> None:
    """Compare LightGBM, BG/NBD and RFM-rule churn predictions on a time split."""
    from marketloop.customers.evaluation import evaluate_churn

    tx = _read(transactions, fmt, customer_col, date_col, amount_col)
    with Progress("training and scoring churn models"):
        result = evaluate_churn(tx, _required_date(as_of, "as-of"), horizon_days)
    if json_out:
        emit_json(result)
        return
    table = Table(
        title=f"Churn = no order in the {horizon_days} days after {result['as_of']} ({result['test_customers']:,} "
        f"customers, observed churn rate {result['test_churn_rate']:.1%})"
    )
    for name in ("model", "ROC AUC", "PR AUC", "calibration error (ECE)", "Brier"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for name, m in result["models"].items():
        table.add_row(name, f"{m['roc_auc']:.3f}", f"{m['pr_auc']:.3f}", f"{m['ece']:.3f}", f"{m['brier']:.3f}")
    console.print(table)
    console.print(
        f"Best model: {result['best']} (ROC AUC {result['roc_auc_gain_over_rfm_rule']:+.3f} over the RFM "
        f"segment rule, {result['roc_auc_gain_over_rfm_cells']:+.3f} over RFM cell rates); the profiles serve "
        f"{result['served']}."
    )
    served = result["served"]
    _print_bands(
        f"Calibration by churn band ({served}; bands are quantiles: the riskiest 10 % are very_high)",
        result["calibration"][served]["bands"],
    )
    bins = Table(title=f"Reliability diagram ({served})")
    for name in ("predicted", "customers", "mean predicted", "observed churn"):
        bins.add_column(name, justify="right")
    for b in result["calibration"][served]["reliability"]:
        bins.add_row(
            f"{b['low']:.1f}-{b['high']:.1f}",
            f"{b['customers']:,}",
            f"{b['mean_predicted']:.3f}",
            f"{b['observed_rate']:.3f}",
        )
    console.print(bins)
    top = result["absolute_bands"][-1]
    console.print(
        f"With fixed bands (very_high from {top['probability_from']:.2f}) the top band would hold "
        f"{top['share']:.1%} of customers (observed churn {_pct(top['observed_rate'])}; the observed rates justify "
        f"{top['justified_share']:.1%})."
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print_bands(title: str, bands: list[dict]) -> None:
    table = Table(title=title)
    for name in (
        "band",
        "customers",
        "share",
        "probability",
        "mean predicted",
        "observed churn",
        "ECE in band",
        "share at or above",
        "justified share",
    ):
        table.add_column(name, justify="left" if name == "band" else "right")
    for b in bands:
        table.add_row(
            b["band"],
            f"{b['customers']:,}",
            f"{b['share']:.1%}",
            f"{b['probability_from']:.2f}-{b['probability_to']:.2f}",
            _pct(b["mean_predicted"]),
            _pct(b["observed_rate"]),
            "-" if b["ece"] is None else f"{b['ece']:.3f}",
            f"{b['share_at_or_above']:.1%}",
            _pct(b["justified_share"]),
        )
    console.print(table)
    console.print(
        "justified share: customers whose reliability bin (20 equal bins) has an observed churn rate at least "
        "the band's lower bound; a calibrated model puts about that share at or above it."
    )


@evaluate.app.command("profiles")
def eval_profiles_cmd(
    customers: Annotated[int, typer.Option("--customers", "-n", help="Simulated customers.")] = 20_000,
    products: Annotated[int, typer.Option("--products", "-p", help="Simulated products.")] = 500,
    days: Annotated[int, typer.Option("--days", "-d", help="Days of simulated history.")] = 365,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Simulator seed.")] = 0,
    start: Annotated[
        str, typer.Option("--start", help="First day of the simulated history; the history must end by today.")
    ] = "2025-01-01",
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep the simulated store and its DuckDB file in this folder.")
    ] = None,
    rfm_rules: Annotated[Path | None, typer.Option("--rfm-rules", help="TOML file with RFM segment rules.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Score the profiles against a simulated store's hidden truth: lifecycle stage and top category
    recovered by the profile, with chance levels from the same customers."""
    from marketloop.customers.rfm import RFMConfig
    from marketloop.customers.truth_check import evaluate_profiles_in_sim

    with Progress("simulating a store, loading it and refreshing the profiles"):
        result = evaluate_profiles_in_sim(
            customers,
            products,
            days,
            seed,
            _required_date(start, "start"),
            keep,
            RFMConfig.from_toml(rfm_rules) if rfm_rules else None,
        )
    if json_out:
        emit_json(result)
        return
    life, by_segment, cat = result["lifecycle"], result["lifecycle_segment_rule"], result["top_category"]
    console.print(
        f"{result['profiled']:,} of {result['customers']:,} simulated customers have a profile "
        f"({result['coverage']:.1%}); profiles as of {result['as_of']}."
    )
    table = Table(title="Profile vs hidden truth")
    for name in ("measure", "profile", "chance"):
        table.add_column(name, justify="left" if name == "measure" else "right")
    chance = life["chance"]
    for label, scores in (("lifecycle stage", life), ("stage read off RFM segment", by_segment)):
        table.add_row(
            f"{label}: accuracy",
            f"{scores['accuracy']:.3f}",
            f"majority {chance['majority']['accuracy']:.3f}, stratified {chance['stratified_random']['accuracy']:.3f}",
        )
        table.add_row(
            f"{label}: balanced accuracy",
            f"{scores['balanced_accuracy']:.3f}",
            f"{chance['majority']['balanced_accuracy']:.3f}",
        )
        table.add_row(f"{label}: Cohen's kappa", f"{scores['cohen_kappa']:.3f}", "0.000")
    k = cat["tags_kept"]
    table.add_row(
        "top category: hit rate",
        f"{cat['top1_hit_rate']:.3f}",
        f"best constant {cat['chance']['best_constant_top1']:.3f}, share random {cat['chance']['share_random_top1']:.3f}",
    )
    if k > 1:
        table.add_row(
            f"true favourite among the {k} category tags",
            f"{cat[f'top{k}_hit_rate']:.3f}",
            f"best constant {cat['chance'][f'best_constant_top{k}']:.3f}",
        )
    console.print(table)
    for label, scores in (("lifecycle stage", life), ("RFM segment reading", by_segment)):
        console.print(
            f"Recall per true stage ({label}): "
            + ", ".join(f"{s} {v:.2f}" for s, v in scores["recall"].items() if v is not None)
        )
