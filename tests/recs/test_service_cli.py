"""Training from a store, the served kinds (with cold start) and the CLI commands, on a tiny DuckDB store."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.errors import InputError, NotFoundError
from marketloop.recs.rules import Rules
from marketloop.recs.service import load_service
from marketloop.recs.training import train_from_store
from marketloop.store import open_store, schema

T0 = dt.datetime(2024, 1, 1)


def _fill(store, board_frame, board_products):
    products = board_products.assign(is_product=True, description="")
    products = pd.concat(
        [
            products,
            pd.DataFrame(
                [
                    {
                        "product_id": "new1",
                        "name": "garden trowel",
                        "category": "garden",
                        "brand": "acme",
                        "price": 12.0,
                        "cost": 6.0,
                        "stock": 5,
                        "hidden": False,
                        "is_product": True,
                        "description": "",
                    }
                ]
            ),
        ]
    )
    orders, lines = [], []
    for n, r in enumerate(board_frame.itertuples()):
        oid = f"o{n}"
        orders.append(
            {
                "order_id": oid,
                "customer_id": r.user,
                "status": "completed",
                "is_return": False,
                "ordered_at": T0 + dt.timedelta(seconds=int(r.ts - board_frame.ts.min())),
            }
        )
        lines.append({"order_id": oid, "line_no": 1, "product_id": r.item, "quantity": 1, "unit_price": 10.0})
    with store.begin() as c:
        rows = [
            {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in products.to_dict(orient="records")
        ]
        c.execute(schema.products.insert(), rows)
        c.execute(schema.orders.insert(), orders)
        c.execute(schema.order_lines.insert(), lines)
        c.execute(
            schema.events.insert(),
            [{"event_id": "e1", "customer_id": "u0", "event_type": "view", "product_id": "a0", "ts": T0}],
        )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, board_frame, board_products):
    root = tmp_path_factory.mktemp("store")
    url = f"duckdb:///{root / 's.duckdb'}"
    store = open_store(url)
    _fill(store, board_frame, board_products)
    versions = train_from_store(store, root / "models", model="itemknn", encoder="hashing", cache_dir=None)
    return url, store, root / "models", versions


def test_training_registers_and_promotes(trained):
    _, _, _, versions = trained
    assert {v.name for v in versions} == {"itemknn", "trending", "content", "assoc"}
    assert all(v.status == "promoted" and v.data["events"] > 0 for v in versions)


def test_kinds_and_cold_start(trained):
    _, store, models, _ = trained
    svc = load_service(store, models)
    mine = svc.for_you("u1", n=3)
    assert mine["product_id"].iloc[0] == "a1"  # u1's missing garden item
    assert list(mine.columns) == ["rank", "product_id", "name", "source"]
    assert mine["rank"].tolist() == list(range(1, len(mine) + 1))
    assert svc.for_you("u1", n=3, rules=Rules(categories=["kitchen"]))["product_id"].str.startswith("b").all()
    assert svc.for_you("new-customer", n=3)["source"].eq("trending (cold start)").all()
    clicked = svc.for_you("new-customer", n=3, context_items=["b1"])
    assert clicked["source"].eq("content (cold start)").all() and clicked["product_id"].str.startswith("b").all()
    assert set(svc.buy_again("u1", n=10)["product_id"]) == {"a0", "a2", "a3", "a4"} - {"a2"}  # a2 out of stock
    new = svc.similar("new1", n=3)  # nobody bought it yet: served by its text
    assert new["source"].eq("content").all() and new["product_id"].str.startswith("a").all()
    assert svc.similar("a0", n=2)["product_id"].str.startswith("a").all()
    assert len(svc.trending(n=4)) == 4
    assert svc.bought_together("a0", n=3)["product_id"].str.startswith("a").all()
    with pytest.raises(NotFoundError, match="'zz' is not known"):
        svc.similar("zz")


def test_cli_show_similar_models_promote(trained):
    url, _, models, _ = trained
    env = {"MARKETLOOP_MODELS_DIR": str(models)}
    runner = CliRunner()
    r = runner.invoke(app, ["recs", "show", "u1", "--db", url, "--n", "2", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["items"][0]["product_id"] == "a1"
    r = runner.invoke(app, ["recs", "similar", "a0", "--db", url, "--together", "--json"], env=env)
    assert r.exit_code == 0 and json.loads(r.stdout)["kind"] == "bought-together"
    # an empty list says why: nobody bought new1 with anything yet
    r = runner.invoke(app, ["recs", "similar", "new1", "--db", url, "--together"], env=env, terminal_width=300)
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "bought-together: new1: nothing to show. No product is bought together with new1 often enough" in text
    assert "it is in 0 basket(s)" in text and "Try `recs similar new1`" in text
    doc = json.loads(
        runner.invoke(app, ["recs", "similar", "new1", "--db", url, "--together", "--json"], env=env).stdout
    )
    assert doc["items"] == [] and "often enough" in doc["note"]
    r = runner.invoke(app, ["recs", "models", "--db", url, "--json"], env=env)
    assert {m["name"] for m in json.loads(r.stdout)["models"]} >= {"itemknn", "content"}
    r = runner.invoke(app, ["recs", "promote", "itemknn", "9", "--db", url], env=env)
    assert r.exit_code != 0


def test_cli_eval_recs_generic(tmp_path, board_frame):
    path = tmp_path / "log.csv"
    board_frame.rename(columns={"user": "customer", "item": "sku", "ts": "when"}).to_csv(path, index=False)
    r = CliRunner().invoke(
        app,
        [
            "eval",
            "recs",
            "--interactions",
            str(path),
            "--user-col",
            "customer",
            "--item-col",
            "sku",
            "--time-col",
            "when",
            "--protocol",
            "random-stratified",
            "--models",
            "pop,itemknn,ease",
            "--k",
            "3",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [m["model"] for m in out["models"]] == ["pop", "itemknn", "ease"]
    by = {m["model"]: m for m in out["models"]}
    assert by["itemknn"]["ndcg@3"] > by["pop"]["ndcg@3"]
    assert {"ndcg@3", "recall@3", "precision@3", "map@3", "mrr", "coverage", "train_seconds"} <= set(by["ease"])


def test_cli_eval_recs_bad_model(tmp_path, board_frame):
    path = tmp_path / "log.csv"
    board_frame.to_csv(path, index=False)
    r = CliRunner().invoke(app, ["eval", "recs", "--interactions", str(path), "--models", "als,nope"])
    assert r.exit_code != 0


def test_cli_train_hybrid_or_fallback(tmp_path, board_frame, board_products):
    url = f"duckdb:///{tmp_path / 's.duckdb'}"
    _fill(open_store(url), board_frame, board_products)
    env = {"MARKETLOOP_MODELS_DIR": str(tmp_path / "m"), "MARKETLOOP_CACHE_DIR": str(tmp_path / "c")}
    r = CliRunner().invoke(
        app, ["recs", "train", "--db", url, "--encoder", "hashing", "--val-days", "10", "--json"], env=env
    )
    assert r.exit_code == 0, r.output
    names = {m["name"] for m in json.loads(r.stdout)["models"]}
    assert names == {"hybrid", "trending", "content", "assoc"}
    r = CliRunner().invoke(app, ["recs", "show", "u3", "--db", url, "--json"], env=env)
    assert r.exit_code == 0 and json.loads(r.stdout)["items"]
    r = CliRunner().invoke(app, ["recs", "train", "--db", url, "--model", "nope"], env=env)
    assert isinstance(r.exception, InputError) and "unknown model 'nope'" in r.exception.message


def test_cli_errors_are_clean_messages(tmp_path):
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "marketloop", "eval", "recs", "--interactions", str(tmp_path / "no.csv")],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "MARKETLOOP_DEBUG": "0"},
    )
    assert r.returncode == 3
    assert "does not exist" in r.stderr and "Traceback" not in r.stderr
