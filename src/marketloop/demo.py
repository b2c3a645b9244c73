"""`marketloop demo`: the main job on the embedded default, end to end.

Generates a synthetic store into ``demo/sim``, loads it into ``demo/marketloop.duckdb`` through the
same validated ingestion as real data, and writes ``demo/report.html``. The demo is a list of steps;
each capability adds its step (customer intelligence, recommendations, copy, campaigns, ...) to
:data:`STEPS`, and each step adds sections to the report and lines to the summary.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from marketloop.config import load_settings
from marketloop.report import Report, Section
from marketloop.store.engine import Store, open_store


@dataclass
class DemoContext:
    out_dir: Path
    store: Store
    sim_dir: Path
    seed: int
    report: Report
    summary: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return str(self.store.url)


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


def step_campaign(ctx: DemoContext) -> None:
    """Run an exploration round in the simulator (recorded as sends), then plan a campaign for a stated goal."""
    import tomllib

    from marketloop.sim import SimWorld
    from marketloop.strategy.goal import parse_goal
    from marketloop.strategy.history import read_history, run_exploration
    from marketloop.strategy.planner import plan_campaign
    from marketloop.strategy.report import plan_section
    from marketloop.strategy.storage import save_plan

    goal = parse_goal(tomllib.loads(DEMO_GOAL), source="demo goal")
    history = read_history(ctx.store)
    if history is None:
        world = SimWorld.load(ctx.sim_dir)
        arms = [("email", d) for d in goal.discounts]
        history = run_exploration(ctx.store, world, world.customer_ids, arms, fraction=0.5, seed=ctx.seed)
    result = plan_campaign(ctx.store, goal, history=history, n_boot=100, random_state=ctx.seed)
    campaign_id = save_plan(ctx.store, result)
    ctx.report.add(plan_section(result.plan, DEMO_GOAL.strip(), notes=[
        f"Uplift learned from an exploration round in the simulator: {len(history.rows):,} customers got a random offer "
        f"({', '.join(history.arms)}) or nothing; outcomes were recorded as sends in the store.",
        f"Stored as {campaign_id}; see it with: marketloop campaign show {campaign_id} --db {ctx.db_url}",
    ]))
    ctx.summary["campaign"] = {"campaign_id": campaign_id, "audience": int(len(result.audience)),
                               "predicted": {k: v.model_dump() for k, v in result.plan.predictions.items()}}


#: (name, step) in order. Later capabilities append here.
STEPS: list[tuple[str, Step]] = [("overview", step_overview), ("campaign", step_campaign)]


@dataclass(frozen=True)
class DemoOptions:
    out_dir: Path = Path("demo")
    customers: int = 20_000
    products: int = 400
    days: int = 365
    seed: int = 7


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
    say(f"Generating a store of {options.customers:,} customers and {options.products:,} products over {options.days} days")
    manifest = generate_store(sim_dir, customers=options.customers, products=options.products, days=options.days,
                              seed=options.seed)
    timings["generate"] = round(time.perf_counter() - started, 2)

    settings = load_settings(db_url=f"duckdb:///{db_path}", secret_file=out / ".marketloop" / "pii.key")
    store = open_store(settings.db_url)
    started = time.perf_counter()
    say("Loading it into DuckDB through validated ingestion")
    load_dataset(store, sim_dir, manifest.files, settings=settings)
    timings["load"] = round(time.perf_counter() - started, 2)

    report = Report(title="MarketLoop demo store",
                    subtitle=f"{options.customers:,} simulated customers, {options.days} days, seed {options.seed}")
    ctx = DemoContext(out_dir=out, store=store, sim_dir=sim_dir, seed=options.seed, report=report, timings=timings)
    ctx.summary["generated_rows"] = manifest.rows
    for name, step in STEPS:
        started = time.perf_counter()
        say(f"Running step: {name}")
        step(ctx)
        timings[name] = round(time.perf_counter() - started, 2)
    report.add(Section(title="How this report was made", notes=[
        f"Command: marketloop demo --customers {options.customers} --products {options.products} "
        f"--days {options.days} --seed {options.seed}",
        "Step timings (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()),
    ]))
    ctx.summary["report"] = str(report.write(out / "report.html"))
    ctx.summary["db_url"] = f"duckdb:///{db_path}"
    ctx.summary["timings"] = timings
    store.close()
    return ctx
