"""Content and language commands: `marketloop copy`, `reviews`, `assistant`, and `eval sentiment |
intents | copy`. Registered by :func:`register` (one line in main.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from marketloop.cli import evaluate
from marketloop.cli.common import (
    DbOption,
    JsonOption,
    Progress,
    SepOption,
    console,
    emit_json,
    err_console,
    open_cli_store,
)
from marketloop.errors import InputError

copy_app = typer.Typer(help="Write marketing copy with a text provider, checked by guardrails.", no_args_is_help=True)
reviews_app = typer.Typer(help="Review sentiment, aspects and per-product summaries.", no_args_is_help=True)
assistant_app = typer.Typer(help="The customer-service assistant.", no_args_is_help=True)

ProviderOpt = Annotated[
    str,
    typer.Option("--provider", help="Text provider: template (default), openai, transformers, llamacpp or a plugin."),
]
ProviderOptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--provider-option",
        "-o",
        help="Provider option KEY=VALUE (repeatable), e.g. -o base_url=http://127.0.0.1:8000/v1 -o model=qwen2.5",
    ),
]
MODEL_HOME = Path(".marketloop/models")


def register(app: typer.Typer) -> None:
    app.add_typer(copy_app, name="copy")
    app.add_typer(reviews_app, name="reviews")
    app.add_typer(assistant_app, name="assistant")


def _options(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(
                f"--provider-option {pair!r} is not KEY=VALUE",
                field="provider-option",
                value=pair,
                hint="e.g. -o model=llama3.1 -o base_url=http://127.0.0.1:11434/v1",
            )
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _text_client(name: str, pairs: list[str] | None):  # noqa: ANN202
    from marketloop.content.providers.registry import get_registry
    from marketloop.content.providers.runtime import TextClient

    return TextClient(get_registry().create("text", name, _options(pairs)))  # type: ignore[arg-type]


def _embedder(name: str | None):  # noqa: ANN202
    if not name or name == "none":
        return None
    from marketloop.content.providers.registry import get_registry
    from marketloop.content.providers.runtime import EmbeddingCache, EmbeddingClient

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return EmbeddingClient(
        get_registry().create("embedding", name), cache=EmbeddingCache(Path(".marketloop/cache/embeddings.sqlite"))
    )  # type: ignore[arg-type]


def _read_table(path: str, columns: list[str], sep: str | None = None, option: str = "--data"):  # noqa: ANN202
    """The file as a DataFrame with `columns` (one reader and one set of errors for every file command)."""
    from marketloop.store.ingest.frames import read_frame

    return read_frame(path, sep=sep, columns=columns, option=option)


# --- copy ------------------------------------------------------------------------------------------
@copy_app.command("providers")
def providers_cmd(json_out: JsonOption = False) -> None:
    """List text and embedding providers (built-in and plugins) with their declared capabilities."""
    from marketloop.content.providers.registry import get_registry

    reg = get_registry()
    rows = []
    for e in reg.entries():
        try:
            cls = reg.provider_class(e.kind, e.name)
            caps, opts = cls.capabilities.model_dump(), sorted(cls.Options.model_fields)
        except Exception as exc:  # noqa: BLE001 - a plugin failing to import is shown, not fatal
            caps, opts = {"error": str(exc)}, []
        rows.append({"kind": e.kind, "name": e.name, "origin": e.origin, "capabilities": caps, "options": opts})
    if json_out:
        emit_json({"providers": rows})
        return
    t = Table(title="Providers")
    for col in ("kind", "name", "origin", "capabilities", "options"):
        t.add_column(col)
    for r in rows:
        caps = ", ".join(f"{k}={v}" for k, v in r["capabilities"].items() if v not in (False, None))
        t.add_row(r["kind"], r["name"], r["origin"], caps, ", ".join(r["options"]))
    console.print(t)


@copy_app.command("preview")
def preview_cmd(
    customer: Annotated[str, typer.Option("--customer", help="Customer id in the store.")],
    goal: Annotated[
        str,
        typer.Option(
            "--goal",
            help="winback, welcome, cart_recovery, cross_sell, promotion, replenish, new_arrivals, or free text.",
        ),
    ] = "promotion",
    channel: Annotated[str, typer.Option("--channel", help="email, sms or push.")] = "email",
    db: DbOption = None,
    provider: ProviderOpt = "template",
    provider_option: ProviderOptionOpt = None,
    offer: Annotated[str | None, typer.Option("--offer", help="percent:15, amount:10 or free_shipping.")] = None,
    code: Annotated[str | None, typer.Option("--code", help="Discount code, e.g. SAVE15.")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Offer end date YYYY-MM-DD.")] = None,
    min_spend: Annotated[float | None, typer.Option("--min-spend")] = None,
    products: Annotated[
        str | None,
        typer.Option(
            "--products", help="Comma-separated product ids (default: best sellers the customer has not bought)."
        ),
    ] = None,
    language: Annotated[str | None, typer.Option("--language", help="en or zh (default: the customer's).")] = None,
    voice: Annotated[str, typer.Option("--voice", help="friendly, premium, playful or plain.")] = "friendly",
    store_name: Annotated[str, typer.Option("--store-name")] = "Our Shop",
    variants: Annotated[int, typer.Option("--variants", min=1, max=8)] = 1,
    json_out: JsonOption = False,
) -> None:
    """Print what would be sent to a customer, with the provider and guardrail verdicts behind it."""
    from marketloop.content.copy.brief import BrandVoice, EmailCopy, render_email_text
    from marketloop.content.copy.generate import CopyWriter
    from marketloop.content.copy.store_facts import brief_from_store, parse_offer, save_calls

    if channel not in ("email", "sms", "push"):
        raise InputError(
            f"--channel {channel!r} is not one of email, sms, push",
            field="channel",
            value=channel,
            hint="e.g. --channel sms",
        )
    if language not in (None, "en", "zh"):
        raise InputError(
            f"--language {language!r} is not en or zh", field="language", value=language, hint="--language zh"
        )
    if voice not in ("friendly", "premium", "playful", "plain"):
        raise InputError(
            f"--voice {voice!r} is not friendly, premium, playful or plain",
            field="voice",
            value=voice,
            hint="--voice premium",
        )
    the_offer = parse_offer(offer, code, expires, min_spend)
    client = _text_client(provider, provider_option)
    with open_cli_store(db) as store:
        brief = brief_from_store(
            store,
            customer,
            goal=goal,
            channel=channel,
            offer=the_offer,
            product_ids=[p.strip() for p in products.split(",") if p.strip()] if products else None,
            language=language,
            brand=BrandVoice(store_name=store_name, voice=voice),
            variants=variants,
        )
        results = CopyWriter(client).write(brief)
        save_calls(store, client.ledger)
    if json_out:
        emit_json(
            {
                "customer": customer,
                "provider": provider,
                "brief": brief.model_dump(mode="json", exclude={"forbidden_terms", "other_product_names"}),
                "results": [r.model_dump(mode="json") for r in results],
            }
        )
        return
    for r in results:
        colour = {"accepted": "green", "repaired": "yellow", "replaced": "yellow", "blocked": "red"}[r.action]
        console.print(
            f"[bold]Variant {r.variant + 1}[/] - provider [cyan]{r.provider}[/] - raw output: "
            f"{'[green]pass[/]' if r.raw_report.passed else '[red]' + ', '.join(r.raw_report.kinds()) + '[/]'} - "
            f"[{colour}]{r.action}[/]"
            + (f" (final text by {r.final_provider})" if r.final_provider != r.provider else "")
        )
        for reason in r.reasons:
            console.print(f"  reason: {reason}", highlight=False, markup=False)
        m = r.message
        if m is None:
            console.print("  [red]nothing would be sent[/]")
        elif isinstance(m, EmailCopy):
            console.print(
                f"Subject: {m.subject}\nPreheader: {m.preheader}\n\n{render_email_text(m)}\n",
                highlight=False,
                markup=False,
            )
        else:
            console.print(
                "\n".join(f"{k}: {v}" for k, v in m.model_dump().items()) + "\n", highlight=False, markup=False
            )


# --- reviews ---------------------------------------------------------------------------------------
@reviews_app.command("train")
def reviews_train_cmd(
    data: Annotated[str, typer.Option("--data", help="CSV/Parquet with review texts and 1-5 ratings.")],
    text_col: Annotated[str, typer.Option("--text-col")] = "Review Text",
    rating_col: Annotated[str, typer.Option("--rating-col")] = "Rating",
    out: Annotated[Path, typer.Option("--out", help="Model folder.")] = MODEL_HOME / "sentiment",
    sep: SepOption = None,
    features: Annotated[str, typer.Option("--features", help="auto, tfidf, embeddings or stack.")] = "tfidf",
    embedder: Annotated[
        str, typer.Option("--embedder", help="Embedding provider for embeddings/stack/auto.")
    ] = "minilm",
    json_out: JsonOption = False,
) -> None:
    """Train the review sentiment classifier (positive 4-5 vs negative 1-2) and save it."""
    from marketloop.content.reviews.sentiment import SentimentClassifier, rating_to_label

    df = _read_table(data, [text_col, rating_col], sep)
    df = df[df[text_col].notna()]
    labels = [rating_to_label(r) for r in df[rating_col]]
    keep = [lab is not None for lab in labels]
    texts = df[text_col].astype(str)[keep].tolist()
    model = SentimentClassifier(features, embedder=_embedder(embedder) if features != "tfidf" else None)  # type: ignore[arg-type]
    model.fit(texts, [lab for lab in labels if lab is not None])
    model.save(out)
    payload = {
        "model": str(out),
        "features": model.features_,
        "validation_macro_f1": model.validation_scores_,
        "reviews": len(texts),
    }
    emit_json(payload) if json_out else console.print(f"Saved sentiment model ({model.features_}) to {out}")


@reviews_app.command("analyze")
def reviews_analyze_cmd(
    db: DbOption = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="Sentiment model folder (default .marketloop/models/sentiment if present, else the lexicon).",
        ),
    ] = None,
    embedder: Annotated[str, typer.Option("--embedder")] = "minilm",
    json_out: JsonOption = False,
) -> None:
    """Score every review in the store and store per-product love / complaint summaries."""
    from marketloop.content.reviews.insights import analyse_store_reviews
    from marketloop.content.reviews.sentiment import SentimentClassifier

    path = model or (MODEL_HOME / "sentiment" if (MODEL_HOME / "sentiment" / "sentiment.json").is_file() else None)
    clf = None
    if path is not None:
        cfg = (
            json.loads((Path(path) / "sentiment.json").read_text()) if (Path(path) / "sentiment.json").is_file() else {}
        )
        clf = SentimentClassifier.load(
            path, embedder=_embedder(embedder) if cfg.get("features") in ("embeddings", "stack") else None
        )
    with open_cli_store(db) as store:
        summary = analyse_store_reviews(store, classifier=clf)
    emit_json(summary) if json_out else console.print(
        f"Scored {summary['reviews']:,} reviews of {summary['products']:,} products with {summary['model']}."
    )


@reviews_app.command("show")
def reviews_show_cmd(
    db: DbOption = None,
    product: Annotated[str | None, typer.Option("--product")] = None,
    top: Annotated[int, typer.Option("--top")] = 10,
    json_out: JsonOption = False,
) -> None:
    """What customers love and complain about, per product (most-reviewed first)."""
    from dataclasses import asdict

    from marketloop.content.reviews.insights import load_summaries

    with open_cli_store(db) as store:
        rows = load_summaries(store, [product] if product else None, limit=top)
    if json_out:
        emit_json({"products": [asdict(r) for r in rows]})
        return
    t = Table(title="Review insights")
    for col in ("product", "reviews", "avg rating", "positive", "loved", "complaints"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r.product_id,
            str(r.n_reviews),
            f"{r.avg_rating:.2f}" if r.avg_rating is not None else "-",
            f"{r.positive_share:.0%}",
            ", ".join(f"{x['aspect']} ({x['mentions']})" for x in r.loves),
            ", ".join(f"{x['aspect']} ({x['mentions']})" for x in r.complaints),
        )
    console.print(t)


# --- assistant -------------------------------------------------------------------------------------
@assistant_app.command("train")
def assistant_train_cmd(
    data: Annotated[str, typer.Option("--data", help="CSV with utterances and intent labels (e.g. Bitext).")],
    text_col: Annotated[str, typer.Option("--text-col")] = "utterance",
    label_col: Annotated[str, typer.Option("--label-col")] = "intent",
    out: Annotated[Path, typer.Option("--out")] = MODEL_HOME / "intents",
    sep: SepOption = None,
) -> None:
    """Train the intent classifier the assistant uses and save it."""
    from marketloop.content.assistant.intents import IntentClassifier

    df = _read_table(data, [text_col, label_col], sep).dropna(subset=[text_col, label_col])
    IntentClassifier().fit(df[text_col].astype(str).tolist(), df[label_col].astype(str).tolist()).save(out)
    console.print(f"Saved intent model ({df[label_col].nunique()} intents, {len(df):,} utterances) to {out}")


def build_assistant(store: Any, intents: Path | None, kb: Path | None, embedder: str | None):  # noqa: ANN201
    from marketloop.content.assistant.bot import Assistant
    from marketloop.content.assistant.intents import IntentClassifier
    from marketloop.content.assistant.retrieval import load_knowledge

    path = intents or (MODEL_HOME / "intents" if (MODEL_HOME / "intents" / "intents.json").is_file() else None)
    clf = IntentClassifier.load(path) if path else None
    if clf is None:
        err_console.print("No intent model found; using keyword rules (train one with `marketloop assistant train`).")
    return Assistant(intents=clf, knowledge=load_knowledge(kb), store=store, embedder=_embedder(embedder))


@assistant_app.command("chat")
def assistant_chat_cmd(
    db: DbOption = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Signed-in customer id (needed for order lookups).")
    ] = None,
    intents: Annotated[Path | None, typer.Option("--intents", help="Intent model folder.")] = None,
    kb: Annotated[Path | None, typer.Option("--kb", help="Folder of Markdown policy texts.")] = None,
    embedder: Annotated[str, typer.Option("--embedder", help="minilm, openai or none (keyword search only).")] = "none",
) -> None:
    """Chat with the assistant in the terminal (empty line or 'quit' ends)."""
    from marketloop.content.assistant.bot import Conversation

    with open_cli_store(db) as store:
        bot = build_assistant(store, intents, kb, embedder)
        conv = Conversation(customer_id=customer)
        console.print("[bold]Assistant[/] ready. Type a question; empty line or 'quit' ends.")
        while True:
            try:
                text = console.input("[bold cyan]you>[/] ").strip()
            except EOFError:
                break
            if not text or text.lower() in ("quit", "exit"):
                break
            reply = bot.respond(conv, text)
            console.print(f"[bold green]assistant>[/] {escape(reply.text)}", highlight=False)
            console.print(
                f"  [dim]intent={reply.intent} ({reply.confidence:.2f}) sources={', '.join(reply.sources) or '-'}"
                + (f" HAND-OFF: {reply.reason}" if reply.handoff else "")
                + "[/]",
                highlight=False,
            )
            if reply.handoff:
                break


@assistant_app.command("ask")
def assistant_ask_cmd(
    message: Annotated[list[str], typer.Argument(help="One or more customer messages, answered as one conversation.")],
    db: DbOption = None,
    customer: Annotated[str | None, typer.Option("--customer")] = None,
    intents: Annotated[Path | None, typer.Option("--intents")] = None,
    kb: Annotated[Path | None, typer.Option("--kb")] = None,
    json_out: JsonOption = False,
) -> None:
    """Answer messages non-interactively (a scripted conversation)."""
    from dataclasses import asdict

    from marketloop.content.assistant.bot import Conversation

    with open_cli_store(db) as store:
        bot = build_assistant(store, intents, kb, None)
        conv = Conversation(customer_id=customer)
        replies = [bot.respond(conv, m) for m in message]
    if json_out:
        emit_json({"replies": [{"message": m, **asdict(r)} for m, r in zip(message, replies, strict=True)]})
        return
    for m, r in zip(message, replies, strict=True):
        console.print(
            f"[bold cyan]you>[/] {escape(m)}\n[bold green]assistant>[/] {escape(r.text)}\n  [dim]intent={r.intent} ({r.confidence:.2f})"
            + (f" HAND-OFF: {r.reason}" if r.handoff else "")
            + "[/]",
            highlight=False,
        )


# --- evaluation --------------------------------------------------------------------------------------
@evaluate.app.command("sentiment")
def eval_sentiment_cmd(
    data: Annotated[str, typer.Option("--data", help="CSV/Parquet of reviews.")],
    text_col: Annotated[str, typer.Option("--text-col")] = "Review Text",
    rating_col: Annotated[str, typer.Option("--rating-col")] = "Rating",
    features: Annotated[
        str,
        typer.Option(
            "--features",
            help="tfidf, embeddings, stack, auto (picked by validation), or all (tfidf, embeddings and stack each).",
        ),
    ] = "tfidf",
    embedder: Annotated[str, typer.Option("--embedder")] = "minilm",
    sample: Annotated[int | None, typer.Option("--sample", help="Use a random subset of this many reviews.")] = None,
    test_size: Annotated[float, typer.Option("--test-size")] = 0.2,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    sep: SepOption = None,
    json_out: JsonOption = False,
) -> None:
    """Accuracy and macro-F1 of the classifier and of the lexicon baseline (binary 4-5 vs 1-2, and 3-class)."""
    from marketloop.content.reviews.evaluation import evaluate_sentiment

    df = _read_table(data, [text_col, rating_col], sep)
    emb = _embedder(embedder) if features != "tfidf" else None
    with Progress("embedding reviews and training" if emb is not None else "training") as progress:
        if emb is not None:
            emb.progress = lambda done, total: progress.update(completed=done, total=total)
        result = evaluate_sentiment(
            df[text_col], df[rating_col], features=features, embedder=emb, sample=sample, test_size=test_size, seed=seed
        )
    result["data"] = data
    if json_out:
        emit_json(result)
        return
    t = Table(title=f"Sentiment on {data} ({result['binary']['n_test']:,} test reviews)")
    for col in ("task", "model", "accuracy", "macro-F1"):
        t.add_column(col)
    for task_name in ("binary", "three_class"):
        for name, m in result[task_name]["models"].items():
            t.add_row(task_name, escape(name), f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}")
    console.print(t)


@evaluate.app.command("intents")
def eval_intents_cmd(
    data: Annotated[str, typer.Option("--data", help="CSV of utterances with intent labels.")],
    text_col: Annotated[str, typer.Option("--text-col")] = "utterance",
    label_col: Annotated[str, typer.Option("--label-col")] = "intent",
    test_data: Annotated[
        str | None, typer.Option("--test-data", help="Also score on another file (same columns or --test-text-col).")
    ] = None,
    test_text_col: Annotated[str | None, typer.Option("--test-text-col")] = None,
    test_size: Annotated[float, typer.Option("--test-size")] = 0.2,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    sep: SepOption = None,
    json_out: JsonOption = False,
) -> None:
    """Accuracy and macro-F1 of the intent classifier on a held-out split (and optionally another file)."""
    from marketloop.content.assistant.evaluation import evaluate_intents

    df = _read_table(data, [text_col, label_col], sep)
    other = _read_table(test_data, [test_text_col or text_col, label_col], sep, "--test-data") if test_data else None
    result = evaluate_intents(
        df[text_col],
        df[label_col],
        test_size=test_size,
        seed=seed,
        other=None if other is None else (other[test_text_col or text_col], other[label_col]),
    )
    result["data"] = data
    if json_out:
        emit_json(result)
        return
    console.print(
        f"Held-out split ({result['n_test']:,} utterances, {result['n_intents']} intents): "
        f"accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f}; keyword rules accuracy {result['keyword_rules_accuracy']:.4f}"
    )
    if "other_file" in result:
        o = result["other_file"]
        console.print(
            f"On {test_data} ({o['n']:,} utterances): accuracy {o['accuracy']:.4f}, macro-F1 {o['macro_f1']:.4f}"
        )


@evaluate.app.command("copy")
def eval_copy_cmd(
    n: Annotated[int, typer.Option("--n", min=1, help="Messages per provider.")] = 1000,
    provider: Annotated[
        list[str] | None, typer.Option("--provider", help="Provider(s) to evaluate (repeatable; default template).")
    ] = None,
    provider_option: ProviderOptionOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Guardrail pass rate of raw outputs, violations by kind, and violations in delivered outputs, per provider."""
    from marketloop.content.copy.evaluate import evaluate_copy
    from marketloop.content.copy.generate import CopyWriter
    from marketloop.content.copy.samples import random_briefs

    briefs = random_briefs(n, seed=seed)
    results = []
    for name in provider or ["template"]:
        writer = CopyWriter(_text_client(name, provider_option if name != "template" else None))
        with Progress(f"writing with {name}", total=n) as progress:
            results.append(evaluate_copy(writer, briefs, progress=lambda i, p=progress: p.update(completed=i)))
    if json_out:
        emit_json({"n": n, "seed": seed, "providers": results})
        return
    t = Table(title=f"Copy guardrails over {n} messages")
    for col in ("provider", "raw pass rate", "raw violations", "actions", "delivered", "delivered with violations"):
        t.add_column(col)
    for r in results:
        t.add_row(
            r["provider"],
            f"{r['raw_pass_rate']:.3f}",
            json.dumps(r["raw_violations_by_kind"]),
            json.dumps(r["actions"]),
            str(r["delivered"]),
            str(r["delivered_with_violations"]),
        )
    console.print(t)


@copy_app.command("demo")
def copy_demo_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Sample messages with guardrail verdicts, review insights for top products, an assistant transcript."""
    from marketloop.content.demo import content_demo

    with open_cli_store(db) as store:
        demo = content_demo(store)
    if json_out:
        emit_json(demo)
        return
    for m in demo["messages"]:
        console.print(
            f"[bold]{m['channel']} ({m['language']}) for {escape(m['customer_id'])}[/] - {m['action']}; raw: {escape(m['raw_verdict'])}",
            highlight=False,
        )
        console.print(
            "\n".join(f"  {k}: {v}" for k, v in (m["message"] or {}).items() if k != "products"),
            highlight=False,
            markup=False,
        )
    for s in demo["review_insights"]:
        console.print(
            f"[bold]Product {s['product_id']}[/]: {s['n_reviews']} reviews, {s['positive_share']:.0%} positive; "
            f"loved: {', '.join(x['aspect'] for x in s['loves']) or '-'}; complaints: {', '.join(x['aspect'] for x in s['complaints']) or '-'}",
            highlight=False,
        )
    for t in demo["assistant_transcript"]:
        console.print(
            f"[cyan]customer>[/] {escape(t['customer'])}\n[green]assistant>[/] {escape(t['assistant'])}",
            highlight=False,
        )
