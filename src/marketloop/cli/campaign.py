"""`marketloop campaign ...` (plan, show) and the strategy evaluation commands (`eval campaign`, `eval uplift`).

Delivery adds approve / launch / status / pause / report to the same :data:`app`.
"""

from __future__ import annotations

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
    err_console,
    open_cli_store,
    settings_for,
)
from marketloop.strategy import EXPLORATION_SHARE

app = typer.Typer(
    help="Plan campaigns from a goal, predict their effect before sending, and inspect plans.", no_args_is_help=True
)

PREDICTION_ROWS = (
    "reach",
    "opens",
    "clicks",
    "conversions",
    "incremental_conversions",
    "incremental_revenue",
    "cost",
    "incremental_profit",
    "roi",
)


def _fmt(x: float) -> str:
    return f"{x:,.2f}" if abs(x) < 100 else f"{x:,.0f}"


def _print_plan(plan, status: str | None = None) -> None:  # noqa: ANN001
    console.print(f"[bold]{plan.name}[/]  [dim]{plan.campaign_id}[/]" + (f"  status: {status}" if status else ""))
    counts = plan.counts()
    console.print(
        f"objective: {plan.objective}; send at {plan.send_at:%Y-%m-%d %H:%M} UTC; window {plan.window_days} days"
    )
    console.print(
        f"audience {counts.audience:,} = {counts.contacted:,} contacted + {counts.holdout:,} holdout "
        f"({plan.holdout_fraction:.0%}, never messaged); {counts.left_out:,} left out"
    )
    table = Table(title="Predicted effect (90 % intervals)")
    for col in ("quantity", "mean", "low", "high"):
        table.add_column(col, justify="right" if col != "quantity" else "left")
    for name in PREDICTION_ROWS:
        if name in plan.predictions:
            iv = plan.predictions[name]
            table.add_row(name.replace("_", " "), _fmt(iv.mean), _fmt(iv.low), _fmt(iv.high))
    console.print(table)
    groups = Table(title="Customer groups")
    for col in ("group", "customers", "offer", "incr. orders", "incr. profit", "why"):
        groups.add_column(col, overflow="fold")
    for g in plan.groups:
        p = g.predictions
        groups.add_row(
            g.group,
            f"{g.customers:,}",
            g.variant or "-",
            _fmt(p["incremental_conversions"].mean) if p else "-",
            _fmt(p["incremental_profit"].mean) if p else "-",
            g.reason,
        )
    console.print(groups)
    console.print(f"[bold]Rationale.[/] {plan.rationale}", soft_wrap=True)


@app.command("plan")
def plan_command(
    goal: Annotated[Path, typer.Argument(help="Goal file (TOML); see docs/strategy.md.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    sim: Annotated[
        Path | None,
        typer.Option(
            "--sim",
            help="Simulated store folder: when the store has no randomised history, "
            "run an exploration round in the simulator first (recorded as sends).",
        ),
    ] = None,
    explore_fraction: Annotated[
        float,
        typer.Option(
            "--explore-fraction",
            help="Share of customers in the exploration round; each "
            "gets one of the goal's offers or nothing (the control), at even odds.",
        ),
    ] = EXPLORATION_SHARE,
    learner: Annotated[
        str, typer.Option("--learner", help="Uplift learner: t_learner, x_learner or dr_learner.")
    ] = "t_learner",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and print without storing the plan.")] = False,
) -> None:
    """Plan a campaign for GOAL: audience by uplift, offer, channel and day, with its predicted effect; stored as 'planned'."""
    from marketloop.store.campaigns import save_plan
    from marketloop.strategy.goal import load_goal
    from marketloop.strategy.history import arm_name, exploration_arms, read_history, run_exploration
    from marketloop.strategy.planner import plan_campaign
    from marketloop.strategy.uplift import make_learner

    parsed = load_goal(goal)
    make_learner(learner)  # validates the name before any work
    settings = settings_for(db)
    with open_cli_store(settings) as store:
        history = read_history(store)
        if history is None and sim is not None:
            from marketloop.sim import SimWorld

            world = SimWorld.load(sim)
            arms = exploration_arms(parsed)
            with Progress(
                f"exploration round in the simulator: {len(arms)} offers to {explore_fraction:.0%} of customers"
            ):
                history = run_exploration(store, world, world.customer_ids, arms, fraction=explore_fraction)
            err_console.print(
                f"Exploration round recorded as {history.campaigns[0]} ({len(history.rows):,} customers: "
                + ", ".join(arm_name(c, d) for c, d in arms)
                + ", control)"
            )
        with Progress("learning uplift and planning"):
            result = plan_campaign(store, parsed, history=history, learner=learner)
        if not dry_run:
            save_plan(store, result.plan, result.audience, goal=result.goal)
    if as_json:
        emit_json(
            {
                "campaign_id": result.plan.campaign_id,
                "stored": not dry_run,
                "plan": result.plan.model_dump(mode="json"),
                "audience": int(len(result.audience)),
                "facts": result.facts,
            }
        )
        return
    _print_plan(result.plan)
    if not dry_run:
        console.print(
            f"Stored as [bold]{result.plan.campaign_id}[/] (status planned, {len(result.audience):,} customers in campaign_audience)."
        )


@app.command("show")
def show_command(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id, as printed by `campaign plan`.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a stored plan: predicted effect, groups with reasons, rationale."""
    from marketloop.store.campaigns import audience_by_variant, load_campaign

    with open_cli_store(db) as store:
        campaign = load_campaign(store, campaign_id, require_plan=True)
        by_variant = audience_by_variant(store, campaign_id)
    if as_json:
        emit_json(
            {
                "campaign_id": campaign_id,
                "status": campaign.status,
                "plan": campaign.plan.model_dump(mode="json"),
                "audience": sum(by_variant.values()),
                "audience_by_variant": by_variant,
            }
        )
        return
    _print_plan(campaign.plan, campaign.status)


@evaluate.app.command("campaign")
def eval_campaign(
    seeds: Annotated[int, typer.Option("--seeds", help="Simulated stores (seeds 0..N-1).")] = 5,
    customers: Annotated[int, typer.Option("--customers", help="Customers per simulated store.")] = 50_000,
    days: Annotated[int, typer.Option("--days", help="Days of history per store.")] = 365,
    learner: Annotated[str, typer.Option("--learner", help="Uplift learner for the planner.")] = "t_learner",
    explore_fraction: Annotated[
        float,
        typer.Option(
            "--explore-fraction",
            help="Share of each store's customers in the exploration round the planner learns from.",
        ),
    ] = EXPLORATION_SHARE,
    as_json: JsonOption = False,
) -> None:
    """The planner vs everyone / top-20 % propensity / random-30 % with 20 % off and the oracle, in the simulator."""
    from marketloop.strategy.simulation import evaluate_campaigns
    from marketloop.strategy.uplift import make_learner

    make_learner(learner)
    with Progress("simulated stores: generating, exploring, planning, scoring the policies", total=seeds) as bar:
        result = evaluate_campaigns(
            seeds,
            customers,
            days=days,
            learner=learner,
            explore_fraction=explore_fraction,
            progress=lambda _: bar.advance(),
        )
    if as_json:
        emit_json(result)
        return
    s = result["summary"]
    table = Table(title=f"Incremental profit, mean of {seeds} seeds x {customers:,} customers")
    table.add_column("policy")
    table.add_column("incremental profit", justify="right")
    for name, value in s["mean_incremental_profit"].items():
        table.add_row(name, _fmt(value))
    console.print(table)
    for key in (
        "best_naive_policy",
        "planner_vs_best_naive",
        "planner_minus_best_naive",
        "planner_vs_oracle",
        "predicted_incremental_conversions",
        "realised_incremental_conversions",
        "prediction_error_conversions",
        "interval_covers_realised",
        "mean_exploration_profit",
    ):
        console.print(f"{key.replace('_', ' ')}: {s[key]}")


@evaluate.app.command("uplift")
def eval_uplift(
    data: Annotated[
        Path, typer.Option("--data", help="CSV or Parquet file of a randomised test, one row per customer.")
    ],
    treatment_col: Annotated[str, typer.Option("--treatment-col", help="Column naming each row's arm.")],
    treatment: Annotated[str, typer.Option("--treatment", help="Value of the treated arm.")],
    control: Annotated[str, typer.Option("--control", help="Value of the control arm.")],
    outcome: Annotated[str, typer.Option("--outcome", help="0/1 outcome column.")],
    seeds: Annotated[int, typer.Option("--seeds", help="50/50 splits.")] = 5,
    drop: Annotated[
        list[str] | None,
        typer.Option("--drop", help="Columns not to use as features (repeatable), e.g. later outcomes."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Qini, AUUC and uplift at 10 % / 30 % of every learner and of random targeting, over 50/50 splits."""
    from marketloop.strategy.uplift_eval import evaluate_uplift, read_table

    columns = [c.strip() for item in (drop or []) for c in item.split(",") if c.strip()]
    frame = read_table(data)
    with Progress(f"training uplift learners on {seeds} splits"):
        result = evaluate_uplift(frame, treatment_col, treatment, control, outcome, seeds=seeds, drop=columns)
    result["data"] = str(data)
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"Uplift on {data.name} ({result['rows']:,} rows, {seeds} splits)")
    for col in ("learner", "qini", "auuc", "uplift@10%", "uplift@30%"):
        table.add_column(col, justify="right" if col != "learner" else "left")
    for name, m in result["learners"].items():
        table.add_row(
            name, *(f"{m[k]['mean']:.4f} ± {m[k]['std']:.4f}" for k in ("qini", "auuc", "uplift_at_10", "uplift_at_30"))
        )
    console.print(table)
    console.print(f"best learner: {result['best_learner']}")
