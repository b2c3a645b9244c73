"""`marketloop recs ...` (train, show, similar, trending, models, promote, rollback) and `marketloop eval recs`."""

from __future__ import annotations

from typing import Annotated

import typer
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
    settings_for,
)

app = typer.Typer(
    help="Recommendations: train models, show recommendations, manage model versions.", no_args_is_help=True
)
N = Annotated[int, typer.Option("--n", "-n", min=1, max=1000, help="How many products.")]


def _store(db: str | None):  # noqa: ANN202

    s = settings_for(db)
    return s, open_cli_store(s)


def _print_frame(df, title: str, empty: str | None = None) -> None:  # noqa: ANN001
    if empty is not None and df.empty:
        console.print(f"[bold]{title}[/]: nothing to show. {empty}", highlight=False)
        return
    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col), justify="right" if df[col].dtype.kind in "fi" else "left")
    for row in df.itertuples(index=False):
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


@app.command("train")
def train(
    db: DbOption = None,
    model: Annotated[
        str, typer.Option(help="Personalised model: hybrid, als, ease, itemknn, bpr, sasrec, ...")
    ] = "hybrid",
    encoder: Annotated[
        str, typer.Option(help="Product-text encoder for the content model: minilm or hashing.")
    ] = "minilm",
    val_days: Annotated[float, typer.Option(help="Validation window the hybrid's ranker learns from (days).")] = 30.0,
    promote: Annotated[bool, typer.Option("--promote/--no-promote", help="Serve the new versions right away.")] = True,
    session_model: Annotated[
        str,
        typer.Option(
            help="Model for live visits, trained on the events that carry a session id: sknn, sasrec-session, or none."
        ),
    ] = "sknn",
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="duckdb (default: every served model on one machine) or spark (ALS on Spark MLlib, registered "
            "as an als version, plus every customer's for-you list written to the store's recs_lists).",
        ),
    ] = None,
    input_dir: Annotated[
        str | None,
        typer.Option("--input", help="With --engine spark: a folder of Parquet / Delta tables to train from."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Train the recommendation models on the store's orders and events and register them (and, when
    events carry session ids, the session model that ranks products for anonymous visitors)."""
    from marketloop.engines import check_engine
    from marketloop.engines.recs import train as train_on
    from marketloop.recs.base import model_class

    model_class(model)
    settings, store = _store(db)
    chosen = check_engine(engine or settings.engine)
    options = {} if chosen == "spark" else {"model": model, "encoder": encoder, "val_days": val_days}
    if chosen == "duckdb":
        options["cache_dir"] = str(settings.cache_dir)
        options["session_model"] = None if session_model == "none" else session_model
    with Progress("loading data") as progress:
        versions = train_on(
            store,
            settings.models_dir,
            engine=chosen,
            source=input_dir,
            settings=settings,
            promote=promote,
            on_step=lambda s: progress.update(f"training {s}"),
            **options,
        )
    rows = [
        {
            "name": v.name,
            "version": v.version,
            "status": v.status,
            "fit_seconds": v.metrics.get("fit_seconds"),
            "events": v.data.get("events"),
            "path": v.path,
        }
        for v in versions
    ]
    if as_json:
        emit_json({"models": rows})
        return
    import pandas as pd

    _print_frame(pd.DataFrame(rows), "Trained models")


def _rules(  # noqa: ANN202 - returns recs.rules.BusinessRules, imported lazily
    n_category: int | None,
    category: list[str] | None,
    exclude: list[str] | None,
    max_price: float | None,
    include_bought: bool,
):
    from marketloop.recs.rules import Rules

    return Rules(
        max_per_category=n_category,
        categories=category or None,
        exclude_items=exclude or [],
        max_price=max_price,
        exclude_bought=not include_bought,
    )


@app.command("show")
def show(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    db: DbOption = None,
    n: N = 10,
    kind: Annotated[str, typer.Option(help="for-you or buy-again.")] = "for-you",
    clicked: Annotated[list[str] | None, typer.Option(help="Products a new customer just viewed (cold start).")] = None,
    category: Annotated[list[str] | None, typer.Option(help="Only these categories (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Never show these products (repeatable).")] = None,
    max_per_category: Annotated[int | None, typer.Option(min=1, help="Diversity cap per category.")] = None,
    max_price: Annotated[float | None, typer.Option(min=0)] = None,
    include_bought: Annotated[bool, typer.Option(help="Allow products the customer already bought.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Recommendations for one customer (promoted models, business rules applied)."""
    from marketloop.errors import InputError
    from marketloop.recs.service import load_service

    if kind not in ("for-you", "buy-again"):
        raise InputError(
            f"kind {kind!r} is not valid here (expected for-you or buy-again)",
            field="kind",
            value=kind,
            hint="Use `recs similar` for product-to-product kinds.",
        )
    settings, store = _store(db)
    svc = load_service(store, settings.models_dir)
    rules = _rules(max_per_category, category, exclude, max_price, include_bought)
    df = (
        svc.for_you(customer, n, rules, context_items=clicked)
        if kind == "for-you"
        else svc.buy_again(customer, n, rules)
    )
    note = svc.why_empty(kind, customer, rules) if df.empty else None
    if as_json:
        emit_json({"customer": customer, "kind": kind, "items": df.to_dict(orient="records"), "note": note})
    else:
        _print_frame(df, f"{kind} for customer {customer}", note)


@app.command("session")
def session_cmd(
    session_id: Annotated[str, typer.Argument(help="Session id, as sent with the tracked events.")],
    db: DbOption = None,
    n: N = 10,
    viewed: Annotated[
        list[str] | None, typer.Option(help="Products of the visit instead of the stored events (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Products for one visit, from its tracked events (or the products given with --viewed)."""
    from marketloop.recs.service import load_service
    from marketloop.recs.sessions import live_session_items

    settings, store = _store(db)
    svc = load_service(store, settings.models_dir)
    items = viewed or live_session_items(store, session_id)
    df = svc.frame(svc.rank_session(items, n))
    if as_json:
        emit_json({"session": session_id, "kind": "session", "viewed": items, "items": df.to_dict(orient="records")})
    else:
        _print_frame(df, f"session {session_id} ({len(items)} products seen)")


@app.command("similar")
def similar(
    product: Annotated[str, typer.Argument(help="Product id.")],
    db: DbOption = None,
    n: N = 10,
    together: Annotated[bool, typer.Option("--together", help="Bought together (association rules) instead.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Products similar to (or bought together with) one product."""
    from marketloop.recs.service import load_service

    settings, store = _store(db)
    svc = load_service(store, settings.models_dir)
    df = svc.bought_together(product, n) if together else svc.similar(product, n)
    kind = "bought-together" if together else "similar"
    note = svc.why_empty(kind, product) if df.empty else None
    if as_json:
        emit_json({"product": product, "kind": kind, "items": df.to_dict(orient="records"), "note": note})
    else:
        _print_frame(df, f"{kind}: {product}", note)


@app.command("trending")
def trending(db: DbOption = None, n: N = 10, as_json: JsonOption = False) -> None:
    """Trending products (time-decayed popularity)."""
    from marketloop.recs.service import load_service

    settings, store = _store(db)
    df = load_service(store, settings.models_dir).trending(n)
    if as_json:
        emit_json({"kind": "trending", "items": df.to_dict(orient="records")})
    else:
        _print_frame(df, "Trending")


@app.command("models")
def models(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List registered model versions."""
    import pandas as pd

    from marketloop.recs.registry import ModelRegistry

    settings, store = _store(db)
    rows = [
        {
            "name": v.name,
            "version": v.version,
            "status": v.status,
            "created_at": str(v.created_at),
            "promoted_at": str(v.promoted_at or ""),
            "events": v.data.get("events"),
        }
        for v in ModelRegistry(store, settings.models_dir).versions()
    ]
    if as_json:
        emit_json({"models": rows})
    else:
        _print_frame(
            pd.DataFrame(rows, columns=["name", "version", "status", "created_at", "promoted_at", "events"]),
            "Registered models",
        )


@app.command("promote")
def promote(name: str, version: int, db: DbOption = None) -> None:
    """Serve version VERSION of model NAME."""
    from marketloop.recs.registry import ModelRegistry

    settings, store = _store(db)
    v = ModelRegistry(store, settings.models_dir).promote(name, version)
    console.print(f"promoted {v.name} v{v.version}")


@app.command("rollback")
def rollback(name: str, db: DbOption = None) -> None:
    """Serve again the version of NAME promoted before the current one."""
    from marketloop.recs.registry import ModelRegistry

    settings, store = _store(db)
    v = ModelRegistry(store, settings.models_dir).rollback(name)
    console.print(f"rolled back {v.name} to v{v.version}")


@evaluate.app.command("recs")
def eval_recs(
    interactions: Annotated[
        str,
        typer.Option(
            "--interactions", help="Interaction file (CSV, TSV, CSV.gz, Parquet or a folder of parts, JSONL)."
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="uci, taobao or generic.")] = "generic",
    user_col: Annotated[str, typer.Option(help="generic: customer column.")] = "user_id",
    item_col: Annotated[str, typer.Option(help="generic: product column.")] = "item_id",
    time_col: Annotated[str, typer.Option(help="generic: time column (ISO or unix seconds).")] = "timestamp",
    rating_col: Annotated[
        str | None, typer.Option(help="generic: rating / strength column (optional; explicit ratings add RMSE).")
    ] = None,
    session_col: Annotated[
        str | None,
        typer.Option(help="generic: visit / session id column (else sessions end after --session-gap-minutes)."),
    ] = None,
    sep: SepOption = None,
    min_rating: Annotated[
        float | None, typer.Option(help="Test relevance needs rating >= this (taobao default 4 = buy).")
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="temporal (last --test-days), leave-last-out (each customer's last event), random-stratified "
            "(75/25 per customer) or session (next item in the sessions of the last --test-days)."
        ),
    ] = "temporal",
    test_frac: Annotated[float, typer.Option(help="random-stratified: test share per customer.")] = 0.25,
    test_days: Annotated[
        float | None, typer.Option(help="temporal / session: length of the test period in days (30 / 1).")
    ] = None,
    exclude_seen: Annotated[
        bool | None,
        typer.Option(
            "--exclude-seen/--include-seen",
            help="Remove each customer's training items (session: the items already in the session) from the "
            "ranking and the relevance. Default: excluded for random-stratified only.",
            show_default=False,
        ),
    ] = None,
    sampled_negatives: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Also rank each test item against N random negatives (sampled{N}_hr@k / _ndcg@k, as in the "
            "SASRec paper); full-ranking figures are always reported.",
        ),
    ] = None,
    session_gap_minutes: Annotated[
        float, typer.Option(help="session: inactivity that ends a session when the data has no session ids.")
    ] = 30.0,
    k: Annotated[int | None, typer.Option("--k", min=1, help="Cut-off for the @k metrics (10; session: 20).")] = None,
    models_: Annotated[
        str | None,
        typer.Option(
            "--models",
            help="Comma-separated model names. Default: pop,buyagain,itemknn,als,bpr,ease,content,sasrec,hybrid "
            "(session: pop,itemknn,sknn,sasrec-session).",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Model setting MODEL.PARAM=VALUE (repeatable), e.g. --set sasrec.max_seconds=300."),
    ] = None,
    encoder: Annotated[str, typer.Option(help="Content model encoder: minilm or hashing.")] = "minilm",
    as_json: JsonOption = False,
) -> None:
    """Evaluate recommenders offline on an interaction file: full ranking of every product, each model's
    wall time and peak memory, and the split it was measured on."""
    import pandas as pd

    from marketloop.recs.offline import (
        DEFAULT_MODELS,
        DEFAULT_SESSION_MODELS,
        evaluate_models,
        parse_models,
        parse_params,
    )
    from marketloop.recs.sources import read_interactions

    session = protocol == "session"
    names = parse_models(models_ or ",".join(DEFAULT_SESSION_MODELS if session else DEFAULT_MODELS))
    params = parse_params(set_)
    settings = settings_for(None)
    with Progress("reading interactions") as progress:
        data = read_interactions(
            interactions,
            fmt,
            user_col=user_col,
            item_col=item_col,
            time_col=time_col,
            rating_col=rating_col,
            session_col=session_col,
            sep=sep,
        )
        result = evaluate_models(
            data,
            names,
            protocol=protocol,
            k=k or (20 if session else 10),
            test_days=test_days or (1.0 if session else 30.0),
            test_frac=test_frac,
            min_rating=min_rating,
            exclude_seen=exclude_seen,
            sampled_negatives=sampled_negatives,
            session_gap_minutes=session_gap_minutes,
            params=params,
            encoder=encoder,
            cache_dir=str(settings.cache_dir),
            on_model=lambda m: progress.update(f"fitting and scoring {m}"),
        )
    payload = {"interactions": interactions, "format": fmt, **result.to_dict()}
    if as_json:
        emit_json(payload)
        return
    df = pd.DataFrame(result.rows).drop(columns=["users", "note"], errors="ignore")
    if session:
        title = (
            f"session split, {result.info.get('test_sessions')} test sessions, "
            f"{result.info.get('test_predictions')} next-item predictions, full ranking"
        )
    else:
        title = f"{protocol} split, {result.info.get('test_users')} test customers, full ranking"
    _print_frame(df, title)
    for row in result.rows:
        if row.get("note"):
            err_console.print(f"{row['model']}: {row['note']}")
