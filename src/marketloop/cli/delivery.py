"""`marketloop campaign approve|launch|dispatch|status|pause|resume|report` and `marketloop eval bandit`.

Commands are registered on the campaign group passed to :func:`register` (the strategy module owns
`plan` / `show` on the same group).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

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
from marketloop.store.campaigns.status import (
    CAMPAIGN_STATUS_HELP,
    DISPATCH_COUNT_HELP,
    SEND_STATUS_HELP,
    help_lines,
)

campaign_app = typer.Typer(help="Plan, approve, launch, watch and measure campaigns.", no_args_is_help=True)

ChannelsOption = typer.Option(
    None,
    "--channels",
    help="JSON or TOML file routing channels to providers, e.g. "
    '{"email": {"provider": "smtp", "host": "localhost", "port": 25}}.',
)
SimOption = typer.Option(
    None,
    "--sim",
    help="Send everything to the simulated customers of this `marketloop sim` folder "
    "(simulated time; the holdout is played too).",
)
PolicyOption = typer.Option(
    None,
    "--policy",
    help="JSON/TOML file with send-time rules: global_cap, global_cap_days, "
    "campaign_cap, quiet_start, quiet_end, max_attempts, backoff_s, ...",
)


def _read_mapping(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(
            f"--{what}: file {str(path)!r} not found",
            field=what,
            value=str(path),
            hint="Pass an existing JSON or TOML file.",
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(
            f"--{what}: {path} is not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {exc}",
            field=what,
            value=str(path),
            hint="Check the file's syntax.",
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            f"--{what}: expected an object/table at the top of {path}",
            field=what,
            value=str(path),
            hint="Wrap it in {}.",
        )
    return data


def _policy(path: Path | None):  # noqa: ANN202
    from pydantic import ValidationError

    from marketloop.delivery.checks import SendPolicy

    if path is None:
        return SendPolicy()
    try:
        return SendPolicy.model_validate(_read_mapping(path, "policy"))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"--policy {where}: {first['msg']}",
            field=where,
            value=first.get("input"),
            hint=f"Fields: {', '.join(SendPolicy.model_fields)}.",
        ) from None


def _dispatcher(channels: Path | None, sim: Path | None, policy: Path | None, seed: int, takeover: bool = False):  # noqa: ANN202
    """Validate the channel routing and the policy, and return ``run(store, campaign_id) -> dict``;
    called before anything is written, so bad options lose nothing."""
    from marketloop.delivery.channels.registry import ChannelRouter
    from marketloop.delivery.dispatcher import Dispatcher
    from marketloop.delivery.simulate import run_simulated
    from marketloop.delivery.unsubscribe import link_builder

    rules = _policy(policy)
    if sim is not None:
        if not sim.is_dir():
            raise InputError(
                f"--sim: folder {str(sim)!r} does not exist",
                field="sim",
                value=str(sim),
                hint="Generate one with: marketloop sim generate --out DIR",
            )
        return lambda store, campaign_id: run_simulated(store, campaign_id, sim, seed=seed, policy=rules).as_dict()
    if channels is None:
        raise InputError(
            "no channels configured: pass --channels FILE or --sim DIR",
            field="channels",
            value=None,
            hint='E.g. --channels channels.json with {"email": {"provider": "smtp", "host": "localhost"}}.',
        )
    routing = _read_mapping(channels, "channels")
    ChannelRouter(routing)
    settings = settings_for()
    links = link_builder(settings.public_url, settings.session_key())  # List-Unsubscribe, checked by `marketloop serve`

    def run(store, campaign_id: str) -> dict:  # noqa: ANN001
        with Progress("dispatching") as status:
            result = Dispatcher(
                store, ChannelRouter(routing), policy=rules, takeover=takeover, unsubscribe_link=links
            ).run(
                campaign_id,
                on_progress=lambda r: status.update(
                    f"dispatching: sent {r.sent:,}, skipped {r.skipped:,}, retrying {r.retried:,}"
                ),
            )
        return result.as_dict()

    return run


def _print_counts(title: str, counts: dict[str, Any], meanings: dict[str, str] | None = None) -> None:
    """A table of counts with, where known, what each word means (the status glossary)."""
    console.print(f"[bold]{title}[/]")
    table = Table()
    table.add_column("")
    table.add_column("value", justify="right")
    if meanings:
        table.add_column("meaning", overflow="fold")
    for k, v in counts.items():
        cells = [str(k), f"{v:,}" if isinstance(v, int) else str(v)]
        table.add_row(*cells, *([(meanings or {}).get(str(k), "")] if meanings else []))
    console.print(table)


def _print_launch(campaign_id: str, summary: dict[str, Any]) -> None:
    """The launch in the words of the plan: audience = contacted (queued for delivery) + holdout."""
    console.print(f"[bold]Launched {campaign_id}[/]")
    console.print(
        f"audience {summary['audience']:,}: {summary['queued'] + summary.get('waiting', 0):,} to contact "
        f"(queued in the outbox) + {summary['holdout']:,} holdout (never messaged, to measure the effect)"
        + (
            f"; {summary['already_in_outbox']:,} were already in the outbox from an earlier launch"
            if summary["already_in_outbox"]
            else ""
        ),
        highlight=False,
    )


def _print_dispatch(title: str, result: dict[str, Any], status: str | None = None) -> None:
    counts = {k: v for k, v in result.items() if k != "reasons"}
    _print_counts(title, counts, DISPATCH_COUNT_HELP)
    if result.get("reasons"):
        _print_counts("Skipped, by reason", dict(result["reasons"]))
    if status:
        console.print(f"Campaign status: {status} ({CAMPAIGN_STATUS_HELP.get(status, '')}).", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the delivery commands to the `campaign` group ``app``."""

    @app.command("approve")
    def approve(
        campaign_id: str = typer.Argument(..., help="Campaign id."), db: DbOption = None, json_out: JsonOption = False
    ) -> None:
        """Approve a planned campaign so it can be launched. The fairness guard looks at the plan first
        (setting fairness_guard: flag approves and raises an alert, block refuses a plan over the threshold)."""
        from marketloop.ops.approval import approve_campaign

        settings = settings_for(db)
        with open_cli_store(settings) as store:
            old, fairness = approve_campaign(store, settings, campaign_id)
        if json_out:
            emit_json({"campaign_id": campaign_id, "from": old, "status": "approved", "fairness": fairness})
        else:
            console.print(f"Campaign {campaign_id}: {old} -> approved")
            if fairness is not None and not fairness["fair"]:
                console.print("[yellow]Fairness: flagged[/yellow] (an alert was raised):")
                for v in fairness["violations"]:
                    console.print(f"  {v['message']}")

    @app.command("fairness")
    def fairness(
        campaign_id: str = typer.Argument(..., help="Campaign id."), db: DbOption = None, json_out: JsonOption = False
    ) -> None:
        """The plan's fairness report: offer rate, discount depth and predicted benefit by customer group
        (settings fairness_attributes), with disparity ratios against fairness_min_ratio."""
        from marketloop.store.campaigns import load_plan
        from marketloop.strategy.fairness import plan_fairness

        s = settings_for(db)
        with open_cli_store(s) as store:
            load_plan(store, campaign_id)  # NotFoundError naming the id
            report = plan_fairness(
                store,
                campaign_id,
                attributes=list(s.fairness_attributes),
                min_ratio=s.fairness_min_ratio,
                min_group=s.fairness_min_group,
            ).as_dict()
        if json_out:
            emit_json(report)
            return
        from rich.table import Table

        for attribute, part in report["attributes"].items():
            ratios = ", ".join(
                f"{m.replace('_', ' ')} {v:.2f}" if v is not None else f"{m.replace('_', ' ')} -"
                for m, v in part["disparity_ratios"].items()
            )
            table = Table(title=f"{attribute} (disparity ratios: {ratios})")
            for col in ("group", "customers", "offered", "offer rate", "discount", "predicted benefit"):
                table.add_column(col)
            for g in part["groups"]:
                table.add_row(
                    g["group"],
                    f"{g['customers']:,}",
                    f"{g['offered']:,}",
                    f"{g['offer_rate']:.1%}" if g["offer_rate"] is not None else "-",
                    f"{g['discount_depth']:.0%}" if g["discount_depth"] is not None else "-",
                    f"{g['predicted_benefit']:+.4f}" if g["predicted_benefit"] is not None else "-",
                )
            console.print(table)
        verdict = "fair" if report["fair"] else f"{len(report['violations'])} violation(s)"
        console.print(f"Verdict (min ratio {report['min_ratio']:g}): {verdict}")
        for v in report["violations"]:
            console.print(f"  {v['message']}")

    @app.command(
        "launch",
        help="Write the campaign's personalised messages to the outbox (holdout kept out) and deliver them.\n\n"
        "The audience is counted one way: audience = contacted (queued for delivery) + holdout (never "
        "messaged). The dispatch counts mean:\n\n" + help_lines(DISPATCH_COUNT_HELP),
    )
    def launch(
        campaign_id: str = typer.Argument(..., help="Campaign id."),
        db: DbOption = None,
        channels: Path | None = ChannelsOption,
        sim: Path | None = SimOption,
        policy: Path | None = PolicyOption,
        holdout: float | None = typer.Option(None, "--holdout", help="Holdout fraction (default: the plan's)."),
        force_no_holdout: bool = typer.Option(
            False, "--force-no-holdout", help="Allow a zero holdout (the effect cannot be measured)."
        ),
        no_dispatch: bool = typer.Option(False, "--no-dispatch", help="Only write the outbox."),
        seed: int = typer.Option(0, help="Seed of the holdout draw (and of the simulator)."),
        bandit_waves: int = typer.Option(
            0,
            "--bandit-waves",
            help="Allocate variants by Thompson sampling over N waves "
            "(with --sim; outcomes of each wave steer the next).",
        ),
        reward: str = typer.Option("click", "--reward", help="Bandit reward: click, conversion or revenue."),
        json_out: JsonOption = False,
    ) -> None:
        """Write the campaign's personalised messages to the outbox (holdout kept out) and deliver them."""
        from dataclasses import asdict

        from marketloop.delivery.outbox import launch as do_launch
        from marketloop.store.campaigns import load_status

        if bandit_waves and sim is None:
            raise InputError(
                "--bandit-waves needs --sim: waves over real time are not scheduled yet",
                field="bandit_waves",
                value=bandit_waves,
                hint="Run the bandit in simulation, or launch without --bandit-waves.",
            )
        if bandit_waves < 0:
            raise InputError(
                f"--bandit-waves: expected 0 or more, got {bandit_waves}",
                field="bandit_waves",
                value=bandit_waves,
                hint="E.g. --bandit-waves 4.",
            )
        run = None if (no_dispatch or bandit_waves) else _dispatcher(channels, sim, policy, seed)
        with open_cli_store(db) as store:
            summary = asdict(
                do_launch(
                    store,
                    campaign_id,
                    force_no_holdout=force_no_holdout,
                    holdout_fraction=holdout,
                    seed=seed,
                    allocate=bool(bandit_waves),
                )
            )
            if bandit_waves and not no_dispatch:
                from dataclasses import asdict as as_dict

                from marketloop.delivery.bandit import run_bandit_simulated

                result = as_dict(
                    run_bandit_simulated(store, campaign_id, sim, waves=bandit_waves, reward=reward, seed=seed)
                )
                if json_out:
                    emit_json({"launch": summary, "bandit": result})
                else:
                    for wave in result["waves"]:
                        console.print(f"wave {wave['wave']}: sent {wave['sent']:,}, allocation {wave['allocation']}")
                return
            result = None if run is None else run(store, campaign_id)
            status_now = load_status(store, campaign_id)
        if json_out:
            emit_json({"launch": summary, "dispatch": result, "status": status_now})
            return
        _print_launch(campaign_id, summary)
        if result:
            _print_dispatch("Dispatch", result, status_now)

    @app.command(
        "dispatch",
        help="Deliver the due sends of a running campaign (run again after a crash, or for deferred sends).\n\n"
        + help_lines(DISPATCH_COUNT_HELP),
    )
    def dispatch(
        campaign_id: str = typer.Argument(..., help="Campaign id."),
        db: DbOption = None,
        channels: Path | None = ChannelsOption,
        sim: Path | None = SimOption,
        policy: Path | None = PolicyOption,
        seed: int = typer.Option(0, help="Seed of the simulator."),
        takeover: bool = typer.Option(
            False,
            "--takeover",
            help="Take the campaign's dispatch lock from a dispatcher "
            "that is gone (after a crash), without waiting for its lease to lapse.",
        ),
        json_out: JsonOption = False,
    ) -> None:
        """Deliver the due sends of a running campaign (run again after a crash, or for deferred sends)."""

        from marketloop.store.campaigns import load_status

        run = _dispatcher(channels, sim, policy, seed, takeover)
        with open_cli_store(db) as store:
            result = run(store, campaign_id)
            status_now = load_status(store, campaign_id)
        if json_out:
            emit_json(result)
        else:
            _print_dispatch(f"Dispatch {campaign_id}", result, status_now)

    @app.command(
        "status",
        help="The campaign's status and its outbox by send status.\n\nCampaign statuses:\n\n"
        + help_lines(CAMPAIGN_STATUS_HELP)
        + "\n\nStatuses of a message in the outbox:\n\n"
        + help_lines(SEND_STATUS_HELP),
    )
    def status(
        campaign_id: str = typer.Argument(..., help="Campaign id."), db: DbOption = None, json_out: JsonOption = False
    ) -> None:
        """The campaign's status and its outbox by send status."""
        from marketloop.store.campaigns import load_campaign, outbox_counts

        with open_cli_store(db) as store:
            campaign = load_campaign(store, campaign_id)
            counts = outbox_counts(store, campaign_id)
        if json_out:
            emit_json({"campaign_id": campaign_id, "name": campaign.name, "status": campaign.status, "outbox": counts})
        else:
            _print_counts(f"{campaign.name} ({campaign_id}): {campaign.status}", counts, SEND_STATUS_HELP)
            console.print(f"{campaign.status}: {CAMPAIGN_STATUS_HELP.get(campaign.status, '')}.", highlight=False)

    for verb, target, doc in (
        ("pause", "paused", "Pause a running campaign: the dispatcher stops before its next batch."),
        ("resume", "running", "Resume a paused campaign (then run `campaign dispatch`)."),
    ):

        def _make(target: str = target, doc: str = doc):  # noqa: ANN202
            def command(
                campaign_id: str = typer.Argument(..., help="Campaign id."),
                db: DbOption = None,
                json_out: JsonOption = False,
            ) -> None:
                from marketloop.store.campaigns import set_status

                with open_cli_store(db) as store:
                    old = set_status(store, campaign_id, target)
                if json_out:
                    emit_json({"campaign_id": campaign_id, "from": old, "status": target})
                else:
                    console.print(f"Campaign {campaign_id}: {old} -> {target}")

            command.__doc__ = doc
            return command

        app.command(verb)(_make())

    @app.command("report")
    def report(
        campaign_id: str = typer.Argument(..., help="Campaign id."),
        db: DbOption = None,
        out: Path = typer.Option(None, "--out", "-o", help="HTML file to write (default campaign-<ID>.html)."),
        level: float = typer.Option(0.95, "--level", help="Confidence level of the intervals."),
        window: int | None = typer.Option(None, "--window", help="Attribution window in days (default: the plan's)."),
        json_out: JsonOption = False,
    ) -> None:
        """Measured results: funnel, lift vs holdout with intervals by segment and variant, predicted vs realised."""
        from marketloop.measure.report import campaign_report, campaign_results

        if not 0.5 <= level < 1:
            raise InputError(
                f"--level: expected 0.5 <= level < 1, got {level}", field="level", value=level, hint="E.g. --level 0.9."
            )
        if window is not None and window <= 0:
            raise InputError(
                f"--window: expected a positive number of days, got {window}",
                field="window",
                value=window,
                hint="E.g. --window 14.",
            )
        with open_cli_store(db) as store:
            results = campaign_results(store, campaign_id, level=level, window_days=window)
        path = campaign_report(results).write(out or Path(f"campaign-{campaign_id}.html"))
        if json_out:
            emit_json(results | {"report": str(path)})
            return
        o = results["overall"]
        console.print(
            f"Conversion lift {o.get('conversion_lift', float('nan')):+.2%} "
            f"[{o.get('conversion_low') or float('nan'):+.2%}, {o.get('conversion_high') or float('nan'):+.2%}], "
            f"revenue/customer {o.get('revenue_lift') or float('nan'):+.2f}; report: {path}"
        )

    @evaluate.app.command("bandit")
    def eval_bandit(
        logs: Path = typer.Option(
            ..., "--logs", help="Open Bandit Dataset folder (random/<campaign>/..., bts/<campaign>/...)."
        ),
        campaign: str = typer.Option("all", "--campaign", help="Campaign folder: all, men or women."),
        folds: int = typer.Option(5, "--folds", help="Cross-fitting folds (policy learned on the others)."),
        seed: int = typer.Option(0, "--seed"),
        repeats: int = typer.Option(10, "--repeats", help="Random fold splits averaged (the spread is reported)."),
        json_out: JsonOption = False,
    ) -> None:
        """Learn a policy on the random logs and estimate its CTR vs random with IPW, SNIPW, DM and DR;
        score each estimator against the on-policy CTR of the Bernoulli-TS logs."""
        from marketloop.learn.obd import evaluate_open_bandit

        result = evaluate_open_bandit(logs, campaign=campaign, folds=folds, seed=seed, repeats=repeats)
        if json_out:
            emit_json(result)
            return
        table = Table(title=f"Open Bandit Dataset, campaign {campaign}")
        for col in ("estimator", "learned policy / random", "BTS policy / random", "BTS relative error"):
            table.add_column(col)
        for name, row in result["estimators"].items():
            table.add_row(
                name,
                f"{row['learned_relative']:.3f} ({row['learned_relative_min']:.2f}-{row['learned_relative_max']:.2f})",
                f"{row['bts_relative']:.3f}",
                f"{row['bts_relative_error']:.3f}",
            )
        console.print(table)
        console.print(f"On-policy truth: BTS / random = {result['truth']['bts_relative']:.3f}")
