"""`marketloop copy | reviews | assistant` and `eval sentiment | intents | copy` from the command line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from marketloop.cli.main import app

runner = CliRunner()


def run(*args: str, input: str | None = None):  # noqa: A002
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def db(tiny_store) -> str:
    url = str(tiny_store.url)
    tiny_store.close()
    return url


def test_copy_preview_json(db: str) -> None:
    r = run(
        "copy",
        "preview",
        "--customer",
        "C1",
        "--goal",
        "winback",
        "--channel",
        "sms",
        "--db",
        db,
        "--offer",
        "percent:15",
        "--code",
        "SAVE15",
        "--expires",
        "2026-12-05",
        "--variants",
        "2",
        "--json",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [x["action"] for x in out["results"]] == ["accepted", "accepted"]
    assert out["results"][0]["provider"] == "template"
    assert "Reply STOP to opt out" in out["results"][0]["message"]["text"]
    # C1 bought P1 and P2; the featured products are ones C1 has not bought
    assert {p["product_id"] for p in out["brief"]["products"]} <= {"P3", "P4"}
    # every provider call is logged for the dashboard
    from marketloop.store.engine import open_store

    with open_store(db) as store:
        calls = store.read_sql("SELECT provider, task, ok FROM llm_calls")
    assert len(calls) == 2 and set(calls["provider"]) == {"template"} and calls["ok"].all()


def test_copy_preview_table_in_chinese(db: str) -> None:
    r = run(
        "copy", "preview", "--customer", "C3", "--goal", "welcome", "--channel", "email", "--db", db, "--products", "P1"
    )
    assert r.exit_code == 0, r.output
    assert "丽华" in r.stdout and "退订" in r.stdout and "accepted" in r.stdout and "Linen Summer Dress" in r.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--customer", "NOPE"], 3, "customer 'NOPE' is not in the store"),
        (["--customer", "C1", "--channel", "fax"], 2, "--channel 'fax' is not one of email, sms, push"),
        (["--customer", "C1", "--offer", "half:50"], 2, "kind must be percent, amount, free_shipping or none"),
        (["--customer", "C1", "--offer", "percent:150"], 2, "Percent offers need 0 < value < 100"),
        (["--customer", "C1", "--offer", "percent:10", "--expires", "soon"], 2, "--expires 'soon' is not a date"),
        (["--customer", "C1", "--products", "P1,ZZ"], 3, "product(s) ZZ not in the store"),
        (["--customer", "C1", "--provider", "gpt9"], 2, "text provider 'gpt9' is not registered"),
        (["--customer", "C1", "--provider", "openai", "-o", "modle=x"], 2, "Extra inputs are not permitted"),
        (["--customer", "C1", "--provider", "openai", "-o", "novalue"], 2, "is not KEY=VALUE"),
    ],
)
def test_copy_preview_bad_input(db: str, args: list[str], code: int, message: str, capsys) -> None:
    from marketloop.cli import main

    with pytest.raises(SystemExit) as info:
        import sys

        sys.argv = ["marketloop", "copy", "preview", "--db", db, *args]
        main.run()
    assert info.value.code == code
    err = capsys.readouterr().err
    assert message in " ".join(err.split()), err


def test_providers_listing() -> None:
    r = run("copy", "providers", "--json")
    names = {(p["kind"], p["name"]) for p in json.loads(r.stdout)["providers"]}
    assert {
        ("text", "template"),
        ("text", "openai"),
        ("text", "transformers"),
        ("text", "llamacpp"),
        ("embedding", "minilm"),
        ("embedding", "openai"),
    } <= names


def test_eval_copy_template(tmp_path) -> None:
    r = run("eval", "copy", "--n", "60", "--json")
    assert r.exit_code == 0, r.output
    [res] = json.loads(r.stdout)["providers"]
    assert res["provider"] == "template" and res["messages"] == 60 and res["delivered_with_violations"] == 0


def _reviews_csv(tmp_path) -> str:
    pos = ["love this dress, perfect fit", "beautiful, comfortable and soft", "great quality, flattering"]
    neg = ["terrible, fell apart", "awful fit, returned", "cheap itchy fabric, disappointed"]
    rows = [(t, 5) for t in pos * 10] + [(t, 1) for t in neg * 10] + [("it is ok, nothing special", 3)] * 10
    path = tmp_path / "reviews.csv"
    pd.DataFrame(rows, columns=["text", "stars"]).to_csv(path, index=False)
    return str(path)


def test_eval_sentiment_reports_classifier_and_lexicon(tmp_path) -> None:
    r = run(
        "eval", "sentiment", "--data", _reviews_csv(tmp_path), "--text-col", "text", "--rating-col", "stars", "--json"
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out["binary"]["models"]) == {"classifier[tfidf]", "lexicon"}
    assert out["binary"]["models"]["classifier[tfidf]"]["macro_f1"] == 1.0
    assert set(out["three_class"]["class_counts"]) == {"positive", "negative", "neutral"}


def test_eval_sentiment_bad_column(tmp_path) -> None:
    r = run("eval", "sentiment", "--data", _reviews_csv(tmp_path), "--text-col", "body", "--json")
    assert r.exit_code != 0 and "has no column(s) 'body', 'Rating'" in str(r.exception)


def _intents_csv(tmp_path) -> str:
    data = {
        "track_order": ["where is my order", "track order", "order status", "has my parcel shipped"],
        "get_refund": ["i want a refund", "refund please", "money back", "get my money back"],
        "recover_password": ["forgot password", "reset my password", "cannot log in", "lost password"],
    }
    rows = [(t, k) for k, ts in data.items() for t in ts] * 4
    path = tmp_path / "intents.csv"
    pd.DataFrame(rows, columns=["utterance", "intent"]).to_csv(path, index=False)
    return str(path)


def test_eval_intents_and_assistant_train_and_ask(tmp_path, db: str) -> None:
    data = _intents_csv(tmp_path)
    r = run("eval", "intents", "--data", data, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["accuracy"] == 1.0
    r = run("assistant", "train", "--data", data, "--out", str(tmp_path / "intents"))
    assert r.exit_code == 0, r.output
    r = run(
        "assistant",
        "ask",
        "where is my order",
        "581234",
        "--customer",
        "C1",
        "--db",
        db,
        "--intents",
        str(tmp_path / "intents"),
        "--json",
    )
    assert r.exit_code == 0, r.output
    replies = json.loads(r.stdout)["replies"]
    assert "order number" in replies[0]["text"] and "Your order 581234" in replies[1]["text"]


def test_assistant_chat_session(db: str) -> None:
    r = run("assistant", "chat", "--db", db, "--customer", "C1", input="what is your return policy?\nI want a human\n")
    assert r.exit_code == 0, r.output
    assert "You can return unworn items" in r.stdout and "HAND-OFF" in r.stdout


def test_reviews_train_analyze_show(tmp_path, db: str) -> None:
    r = run(
        "reviews",
        "train",
        "--data",
        _reviews_csv(tmp_path),
        "--text-col",
        "text",
        "--rating-col",
        "stars",
        "--out",
        str(tmp_path / "sent"),
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["features"] == "tfidf"
    r = run("reviews", "analyze", "--db", db, "--model", str(tmp_path / "sent"), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["reviews"] == 10
    r = run("reviews", "show", "--db", db, "--json")
    products = {p["product_id"]: p for p in json.loads(r.stdout)["products"]}
    assert set(products) == {"P1", "P4"}


def test_copy_demo(db: str) -> None:
    r = run("copy", "demo", "--db", db, "--json")
    assert r.exit_code == 0, r.output
    demo = json.loads(r.stdout)
    assert len(demo["messages"]) == 6 and all(m["final_verdict"] == "pass" for m in demo["messages"])
    assert {m["language"] for m in demo["messages"]} == {"en", "zh"}
    assert demo["review_insights"][0]["product_id"] in ("P1", "P4")
    assert demo["assistant_transcript"][1]["assistant"].startswith("Your order")
    assert demo["assistant_transcript"][-1]["handoff"] is True


def test_demo_report_sections(tiny_store) -> None:
    from marketloop.content.demo import content_demo, report_sections

    sections = report_sections(content_demo(tiny_store))
    assert [s["title"] for s in sections] == [
        "Personalised messages and their guardrail verdicts",
        "What customers love and complain about",
        "Customer-service assistant",
    ]
    assert sections[0]["figures"] == {"messages": "6", "passed guardrails": "6"}
    assert (
        "Subject:" in sections[0]["blocks"][0][1] and "customer> Hi, where is my order?" in sections[2]["blocks"][0][1]
    )
