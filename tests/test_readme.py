"""The README's examples work on the store the README builds: the goal files it plans exist and parse, and the
customer and product ids it names have what its commands need (orders for a profile and recommendations,
co-purchases for a bought-together list)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import duckdb
import pytest

from marketloop.recs.association import AssociationRules
from marketloop.strategy.goal import load_goal

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("marketloop ")]


def test_every_example_goal_parses_and_the_readme_plans_them() -> None:
    goals = sorted((REPO / "examples").glob("*.toml"))
    assert {g.stem for g in goals} >= {"winback", "first_purchase", "clear_stock", "vip_reward"}
    for path in goals:
        goal = load_goal(path)
        assert goal.name and goal.discounts, path
    planned = [c[3] for c in _commands() if c[1:3] == ["campaign", "plan"]]
    assert planned and all((REPO / p).is_file() for p in planned), planned
    for path in goals:
        assert f"`{path.name}`" in README, f"the README does not mention {path.name}"


@pytest.mark.slow
def test_the_ids_the_readme_names_exist_in_the_store_it_builds(tmp_path: Path) -> None:
    from marketloop.sim.generate import generate_store

    generate = next(c for c in _commands() if c[1:3] == ["sim", "generate"])
    opts = dict(zip(generate[3::2], generate[4::2], strict=False))
    out = tmp_path / "sim"
    generate_store(
        out,
        customers=int(opts["--customers"]),
        products=int(opts["--products"]),
        days=int(opts["--days"]),
        seed=int(opts["--seed"]),
    )
    text = " ".join(" ".join(c) for c in _commands())
    customers, products = set(re.findall(r"\bC\d{7}\b", text)), set(re.findall(r"\bP\d{6}\b", text))
    assert customers and products
    con = duckdb.connect()
    orders, lines = f"read_parquet('{out}/orders/*.parquet')", f"read_parquet('{out}/order_lines/*.parquet')"
    for customer in customers:  # a profile and for-you / buy-again lists need completed orders
        n = con.execute(
            f"SELECT count(*) FROM {orders} WHERE customer_id = ? AND status = 'completed'", [customer]
        ).fetchone()[0]
        assert n >= 2, f"{customer} has {n} completed orders in the README's store"
    for (
        product
    ) in products:  # a bought-together list needs min_count baskets (one customer, one day) with another product
        baskets = con.execute(
            f"""WITH b AS (SELECT o.customer_id, CAST(o.ordered_at AS DATE) AS day, l.product_id
                          FROM {lines} l JOIN {orders} o USING (order_id) WHERE o.status = 'completed')
                SELECT max(n) FROM (SELECT c.product_id, count(DISTINCT (a.customer_id, a.day)) AS n FROM b a
                JOIN b c ON a.customer_id = c.customer_id AND a.day = c.day AND c.product_id <> a.product_id
                WHERE a.product_id = ? GROUP BY c.product_id)""",
            [product],
        ).fetchone()[0]
        assert (baskets or 0) >= AssociationRules().min_count, f"{product} has no co-purchases in the README's store"
