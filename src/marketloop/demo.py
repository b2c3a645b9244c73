"""`marketloop demo`: the main job on the embedded default, end to end.

Generates a synthetic store into ``demo/sim``, loads it into ``demo/marketloop.duckdb`` through the
same validated ingestion as real data, and writes ``demo/report.html``. The demo is a list of steps;
each capability adds its step (customer intelligence, recommendations, copy, campaigns, ...) to
:data:`STEPS`, and each step adds sections to the report and lines to the summary.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from marketloop.config import load_settings
from marketloop.report import Report, Section
from marketloop.store.engine import Store, open_store

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class DemoContext:
    out_dir: Path
    store: Store
    sim_dir: Path
    seed: int
    report: Report
    summary: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: the settings the demo runs under (fairness guard, ...); from the environment when None
    settings: object = None

    @property
    def db_url(self) -> str:
        return str(self.store.url)

    def effective_settings(self):  # noqa: ANN201 - marketloop.config.Settings
        from marketloop.config import load_settings

        return self.settings if self.settings is not None else load_settings(db_url=self.db_url)


#: A step takes the context, adds report sections / summary entries, and returns nothing.
Step = Callable[[DemoContext], None]


def step_overview(ctx: DemoContext) -> None:
    from marketloop.report.store_sections import ingestion_section, store_overview
    from marketloop.store.overview import kpis

    ctx.report.add(store_overview(ctx.store), ingestion_section(ctx.store))
    ctx.summary["kpis"] = kpis(ctx.store).to_dict()
    ctx.summary["tables"] = ctx.store.counts()


DEMO_GOAL = """name = "Win back and grow: maximise incremental profit"
objective = "incremental_profit"
budget = 2000
margin_floor = 0.10
max_discount = 0.2
discounts = [0.0, 0.1, 0.2]
channels = ["email"]
window_days = 14
"""


def step_plan(ctx: DemoContext) -> None:
    """Run an exploration round in the simulator (recorded as sends), then plan a campaign for a stated goal."""
    import tomllib

    from marketloop.sim import SimWorld
    from marketloop.store.campaigns import save_plan
    from marketloop.strategy.goal import parse_goal
    from marketloop.strategy.history import read_history, run_exploration
    from marketloop.strategy.planner import plan_campaign
    from marketloop.strategy.report import plan_section

    goal = parse_goal(tomllib.loads(DEMO_GOAL), source="demo goal")
    history = read_history(ctx.store)
    if history is None:
        world = SimWorld.load(ctx.sim_dir)
        arms = [("email", d) for d in goal.discounts]
        history = run_exploration(ctx.store, world, world.customer_ids, arms, seed=ctx.seed)
    result = plan_campaign(ctx.store, goal, history=history, n_boot=100, random_state=ctx.seed)
    campaign_id = save_plan(ctx.store, result.plan, result.audience, goal=result.goal)
    ctx.report.add(
        plan_section(
            result.plan,
            DEMO_GOAL.strip(),
            notes=[
                f"Uplift learned from an exploration round in the simulator: {len(history.rows):,} customers got a random offer "
                f"({', '.join(history.arms)}) or nothing; outcomes were recorded as sends in the store.",
                f"Stored as {campaign_id}; see it with: marketloop campaign show {campaign_id} --db {ctx.db_url}",
            ],
        )
    )
    ctx.summary["campaign"] = {
        "campaign_id": campaign_id,
        "audience": int(len(result.audience)),
        "predicted": {k: v.model_dump() for k, v in result.plan.predictions.items()},
    }


def _emailable(store: Store) -> pd.Series:
    """Customers an e-mail can reach: consent granted on e-mail and no suppression for it (or for all channels)."""
    import sqlalchemy as sa

    from marketloop.store import schema

    k, sp = schema.consents.c, schema.suppressions.c
    suppressed = sa.select(sp.customer_id).where(sp.channel.in_(("email", "*")))
    query = (
        sa.select(k.customer_id)
        .where(k.channel == "email", k.status == "granted", k.customer_id.not_in(suppressed))
        .order_by(k.customer_id)
    )
    return store.read_sql(query)["customer_id"].astype(str)


def step_bandit(ctx: DemoContext, audience_size: int = 2000, waves: int = 4) -> None:
    """A campaign whose variants are allocated by Thompson sampling, wave by wave, in simulation.

    Its audience is drawn from the customers an e-mail can reach (consent granted, not suppressed), and it is
    sent the day after the planned campaign's attribution window closes, so that neither campaign's sends
    fall inside the other's measurement and the frequency caps of the first do not hold back the second."""
    import pandas as pd

    from marketloop.delivery.bandit import run_bandit_simulated
    from marketloop.delivery.outbox import launch
    from marketloop.report import Section
    from marketloop.store.campaigns import (
        CampaignPlan,
        GroupPlan,
        Offer,
        Variant,
        load_plan,
        save_plan,
        set_status,
    )

    pool = _emailable(ctx.store)
    ids = pool.sample(n=min(audience_size, len(pool)), random_state=ctx.seed + 1).sort_values()
    send_at = None
    planned = ctx.summary.get("campaign", {}).get("campaign_id")
    if planned:
        first = load_plan(ctx.store, planned)
        if first.send_at is not None:
            send_at = first.send_at + dt.timedelta(days=first.window_days + 1)
    variants = [
        Variant(name="new_in", subject="New in this week"),
        Variant(name="for_you", subject="Picked for you"),
        Variant(name="fifteen_off", subject="15 % off for you", offer=Offer(discount=0.15, code_prefix="BANDIT")),
    ]
    plan = CampaignPlan(
        campaign_id="demo-bandit",
        name="Demo: three subject lines, allocated by Thompson sampling",
        objective="Find the e-mail that earns the most clicks while sending",
        created_at=dt.datetime(2026, 1, 1),
        send_at=send_at,
        holdout_fraction=0.1,
        variants=variants,
        groups=[GroupPlan(group="all", included=True, customers=len(ids), reason="demo audience")],
    )
    audience = pd.DataFrame(
        {
            "customer_id": ids,
            "group_name": "all",
            "channel": "email",
            "variant": [variants[i % 3].name for i in range(len(ids))],
            "discount": 0.0,
        }
    )
    save_plan(ctx.store, plan, audience)
    set_status(ctx.store, plan.campaign_id, "approved")
    launch(ctx.store, plan.campaign_id, seed=ctx.seed, allocate=True)
    log = run_bandit_simulated(
        ctx.store, plan.campaign_id, ctx.sim_dir, waves=waves, reward="click", floor=0.15, seed=ctx.seed
    )
    table = pd.DataFrame(
        [
            {
                "wave": w["wave"] + 1,
                "sent": w["sent"],
                **{f"{k}: share": v for k, v in w["allocation"].items()},
                **{f"{k}: clicks so far": w["rewards"][k] for k in w["rewards"]},
            }
            for w in log.waves
        ]
    )
    ctx.report.add(
        Section(
            title="Learning while sending: a bandit over three e-mails",
            intro="Each wave's traffic shares come from Thompson sampling on the clicks observed so far (Beta-Bernoulli), "
            "with 15 % of the traffic spread evenly so no variant starves; a stop rule sends the rest to a clear "
            "winner. Allocation probabilities are logged with each send for off-policy evaluation later.",
            figures={"waves": str(len(log.waves)), "winner": log.winner or "none yet (no variant clearly best)"},
            tables=[("Allocation per wave", table)],
        )
    )
    ctx.summary["bandit"] = {
        "campaign_id": plan.campaign_id,
        "audience": len(ids),
        "sent": sum(w["sent"] for w in log.waves),
        "waves": log.waves,
        "winner": log.winner,
    }


def step_execute(ctx: DemoContext) -> None:
    """Approve the planned campaign (after the fairness guard's report), launch it, deliver it through the
    outbox to the simulated customers, and measure the lift against its holdout next to the prediction."""
    from marketloop.delivery.outbox import launch
    from marketloop.delivery.simulate import run_simulated
    from marketloop.measure.report import campaign_results, campaign_sections
    from marketloop.ops.approval import approve_campaign

    campaign_id = ctx.summary["campaign"]["campaign_id"]  # set by step_plan, which runs first
    _, fairness = approve_campaign(ctx.store, ctx.effective_settings(), campaign_id)
    if fairness is not None:
        ctx.summary["fairness"] = {
            "fair": fairness["fair"],
            "ratios": {a: p["disparity_ratios"] for a, p in fairness["attributes"].items()},
            "violations": [v["message"] for v in fairness["violations"]],
        }
        ctx.report.add(fairness_section(fairness))
    launch(ctx.store, campaign_id, seed=ctx.seed)
    result = run_simulated(ctx.store, campaign_id, ctx.sim_dir, seed=ctx.seed)
    results = campaign_results(ctx.store, campaign_id)
    ctx.report.add(*campaign_sections(results))
    o = results["overall"]
    ctx.summary["delivery"] = {
        "sent": result.sent,
        "skipped": result.skipped,
        "deferred": result.deferred,
        "conversion_lift": o.get("conversion_lift"),
        "conversion_low": o.get("conversion_low"),
        "conversion_high": o.get("conversion_high"),
        "revenue_lift": o.get("revenue_lift"),
    }
    ctx.summary.setdefault("highlights", []).append(
        f"Planned campaign {campaign_id} delivered in simulation: {result.sent:,} messages sent, {result.skipped:,} "
        f"skipped at send time; conversion lift {(o.get('conversion_lift') or 0):+.2%} "
        f"[{(o.get('conversion_low') or 0):+.2%}, {(o.get('conversion_high') or 0):+.2%}] vs holdout."
    )


def fairness_section(report: dict):  # noqa: ANN201 - a report Section
    """The fairness report as a report section: one table per attribute."""
    import pandas as pd

    from marketloop.report import Section

    tables = []
    for attribute, part in report["attributes"].items():
        frame = pd.DataFrame(part["groups"])[
            ["group", "customers", "offered", "offer_rate", "discount_depth", "predicted_benefit"]
        ]
        tables.append((f"By {attribute.replace('_', ' ')}", frame))
    figures = {
        f"{a} {m.replace('_', ' ')} ratio": (f"{v:.2f}" if v is not None else "-")
        for a, p in report["attributes"].items()
        for m, v in p["disparity_ratios"].items()
    }
    figures["verdict"] = "fair" if report["fair"] else f"{len(report['violations'])} violation(s)"
    return Section(
        title="Fairness of the plan's offers",
        intro="Offer rate, discount depth and predicted benefit by customer group, and the disparity ratio of each "
        f"(lowest group over highest; the guard's threshold is {report['min_ratio']:g}). Small groups are shown, "
        "not judged.",
        figures=figures,
        tables=tables,
    )


#: (name, step) in order. Later capabilities append here.
def step_customers(ctx: DemoContext) -> None:
    from marketloop.customers.report import demo_step

    demo_step(ctx)


def step_recs(ctx: DemoContext) -> None:
    from marketloop.recs.report import demo_step

    demo_step(ctx)


def step_forecast(ctx: DemoContext) -> None:
    from marketloop.forecast.report import demo_step

    demo_step(ctx)


def step_content(ctx: DemoContext) -> None:
    from marketloop.content.demo import demo_step

    demo_step(ctx)


STEPS: list[tuple[str, Step]] = [
    ("overview", step_overview),
    ("customers", step_customers),
    ("recommendations", step_recs),
    ("content", step_content),
    ("forecast", step_forecast),
    ("plan", step_plan),
    ("execute", step_execute),
    ("bandit", step_bandit),
]


@dataclass(frozen=True)
class DemoOptions:
    out_dir: Path = Path("demo")
    customers: int = 20_000
    products: int = 400
    days: int = 365
    seed: int = 7


def _dashboard_access(store, out: Path, sim_dir: Path) -> dict[str, str]:  # noqa: ANN001
    """An admin key for the demo store, kept owner-only in ``out/admin.key``, and the command that serves the
    dashboard over the demo store (its models and its simulator, so launched campaigns are delivered)."""
    from marketloop.service.keys import create_key

    key_file = out / "admin.key"
    key_file.unlink(missing_ok=True)
    created = create_key(store, "demo admin", "admin")
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(created.token + "\n")
    serve = (
        f"MARKETLOOP_MODELS_DIR={out / 'models'} marketloop serve --db duckdb:///{out / 'marketloop.duckdb'} "
        f"--sim {sim_dir}"
    )
    return {"admin_key_file": str(key_file), "serve_command": serve, "dashboard_url": "http://127.0.0.1:8000/"}


def run_demo(options: DemoOptions, progress: Callable[[str], None] | None = None) -> DemoContext:
    """Run every demo step; returns the context (report path, summary, timings)."""
    from marketloop.sim.generate import generate_store
    from marketloop.store.ingest import load_dataset

    say = progress or (lambda message: None)
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    sim_dir = out / "sim"
    db_path = out / "marketloop.duckdb"
    for stale in (db_path, db_path.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    if sim_dir.exists():
        shutil.rmtree(sim_dir)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    say(
        f"Generating a store of {options.customers:,} customers and {options.products:,} products over {options.days} days"
    )
    manifest = generate_store(
        sim_dir, customers=options.customers, products=options.products, days=options.days, seed=options.seed
    )
    timings["generate"] = round(time.perf_counter() - started, 2)

    settings = load_settings(db_url=f"duckdb:///{db_path}", secret_file=out / ".marketloop" / "pii.key")
    store = open_store(settings.db_url)
    started = time.perf_counter()
    say("Loading it into DuckDB through validated ingestion")
    load_dataset(store, sim_dir, manifest.files, settings=settings)
    timings["load"] = round(time.perf_counter() - started, 2)

    report = Report(
        title="MarketLoop demo store",
        subtitle=f"{options.customers:,} simulated customers, {options.days} days, seed {options.seed}",
    )
    ctx = DemoContext(
        out_dir=out, store=store, sim_dir=sim_dir, seed=options.seed, report=report, timings=timings, settings=settings
    )
    ctx.summary["generated_rows"] = manifest.rows
    for name, step in STEPS:
        started = time.perf_counter()
        say(f"Running step: {name}")
        step(ctx)
        timings[name] = round(time.perf_counter() - started, 2)
    report.add(
        Section(
            title="How this report was made",
            notes=[
                f"Command: marketloop demo --customers {options.customers} --products {options.products} "
                f"--days {options.days} --seed {options.seed}",
                "Step timings (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()),
            ],
        )
    )
    ctx.summary["report"] = str(report.write(out / "report.html"))
    ctx.summary["db_url"] = f"duckdb:///{db_path}"
    ctx.summary.update(_dashboard_access(store, out, sim_dir))
    ctx.summary["timings"] = timings
    store.close()
    return ctx
