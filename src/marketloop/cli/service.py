"""`marketloop serve`, `marketloop worker` and `marketloop keys`: the HTTP service and its API keys."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from marketloop.cli.common import (
    CreateOption,
    DbOption,
    JsonOption,
    console,
    emit_json,
    err_console,
    open_cli_store,
)

keys_app = typer.Typer(
    help="Create, list and revoke API keys for `marketloop serve` (stored hashed in the store).", no_args_is_help=True
)


def _store(db: str | None, create: bool = False):  # noqa: ANN202

    return open_cli_store(db, create=create)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. 'shop-frontend' or 'ana'.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="admin (everything), marketer (read, copy, campaigns, consents), "
            "analyst (read only) or ingest (event tracking only).",
        ),
    ] = "analyst",
    db: DbOption = None,
    create: CreateOption = False,
    json_out: JsonOption = False,
) -> None:
    """Create an API key. The key is printed once: store it now, only its hash is kept."""
    from marketloop.service.audit import record
    from marketloop.service.keys import check_role, create_key

    check_role(role)
    with _store(db, create) as store:
        created = create_key(store, name, role)
        record(store, "cli", "key.create", created.principal.key_id, {"name": created.principal.name, "role": role})
    if json_out:
        emit_json(
            {"key_id": created.principal.key_id, "name": created.principal.name, "role": role, "key": created.token}
        )
        return
    console.print(f"Created {role} key [bold]{created.principal.key_id}[/] for {created.principal.name}:")
    console.print(created.token, highlight=False, soft_wrap=True)
    err_console.print(
        "Store it now: it is not shown again. Use it as `Authorization: Bearer <key>` or log in to the dashboard."
    )


@keys_app.command("list")
def keys_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List API keys (ids, names, roles, state; never secrets)."""
    from marketloop.service.keys import list_keys

    with _store(db) as store:
        rows = list_keys(store)
    if json_out:
        emit_json({"keys": rows})
        return
    if not rows:
        console.print("No API keys yet. Create one with `marketloop keys create NAME --role admin`.")
        return
    table = Table("key id", "name", "role", "created", "state")
    for r in rows:
        table.add_row(
            r["key_id"],
            r["name"],
            r["role"],
            (r["created_at"] or "")[:19],
            "active" if r["active"] else f"revoked {r['revoked_at'][:19]}",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (or the whole key).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Revoke a key: it stops working at once in this process, within seconds in a running server."""
    from marketloop.service.audit import record
    from marketloop.service.keys import revoke_key

    with _store(db) as store:
        principal = revoke_key(store, key_id)
        record(store, "cli", "key.revoke", principal.key_id, {"name": principal.name})
    if json_out:
        emit_json({"key_id": principal.key_id, "revoked": True})
        return
    console.print(f"Revoked key {principal.key_id} ({principal.name}, {principal.role}).")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")

    @app.command("serve")
    def serve(
        db: DbOption = None,
        host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
        sim: Annotated[
            str | None,
            typer.Option("--sim", help="Deliver launched campaigns to this simulator folder (MARKETLOOP_SIM_DIR)."),
        ] = None,
        channels: Annotated[
            str | None,
            typer.Option("--channels", help="JSON/TOML channel routing for real delivery (MARKETLOOP_CHANNELS_FILE)."),
        ] = None,
        no_worker: Annotated[
            bool,
            typer.Option(
                "--no-worker",
                help="Do not run the dispatcher in this process "
                "(run `marketloop worker` instead; PostgreSQL/MySQL only).",
            ),
        ] = False,
        access_log: Annotated[
            bool,
            typer.Option("--access-log/--no-access-log", help="Log one line per request (route, status, ms, key id)."),
        ] = True,
        create: CreateOption = False,
        workers: Annotated[
            int,
            typer.Option(
                "--workers",
                min=1,
                max=64,
                help="HTTP worker processes answering requests (PostgreSQL / MySQL only: DuckDB lets one process "
                "open its file). With more than one, run the dispatcher and the scheduled jobs in "
                "`marketloop worker`; each process enforces 1/N of every rate limit.",
            ),
        ] = 1,
    ) -> None:
        """Run the HTTP API and the dashboard. With DuckDB this process owns the database file (and runs
        the dispatcher); stop it before running other commands on the same file. On PostgreSQL / MySQL,
        --workers N runs N processes behind one port."""
        import uvicorn

        from marketloop.config import load_settings
        from marketloop.errors import InputError
        from marketloop.service.app import configure_access_log, create_app
        from marketloop.store.engine import redact

        settings = load_settings(db_url=db, sim_dir=sim, channels_file=channels, serve_workers=workers)
        with open_cli_store(settings, create=create) as store:  # a missing store is an error before anything starts
            dialect = store.dialect
        if workers > 1 and dialect == "duckdb":
            raise InputError(
                f"--workers {workers}: a DuckDB store can be opened by one process only",
                field="workers",
                value=workers,
                hint="Serve a PostgreSQL or MySQL store (--db postgresql://user@host/db) with several workers, "
                "or serve this one with --workers 1.",
            )
        # uvicorn's own access log prints raw paths and query strings (ids, unsubscribe tokens): ours does not
        # loop="asyncio": measured with bench/serve.py at 64 connections, uvloop gave recommendation requests a
        # p99 of 200-400 ms although the app answered every one in under a millisecond (so the wait was in the
        # transport); the standard loop gave 20-30 ms and more requests per second.
        options = {"host": host, "port": port, "access_log": False, "log_level": "warning", "loop": "asyncio"}
        if workers > 1:
            # each process builds its own app from the settings, which it reads from the environment
            os.environ.update(
                {
                    "MARKETLOOP_DB_URL": settings.db_url,
                    "MARKETLOOP_SERVE_WORKERS": str(workers),
                    "MARKETLOOP_SERVE_ACCESS_LOG": "1" if access_log else "0",
                }
            )
            err_console.print(
                f"MarketLoop on http://{host}:{port} with {workers} worker processes (dashboard: /, API docs: "
                "/v1/docs); Ctrl-C stops it.\nDispatcher and scheduled jobs: not in these processes; run "
                f"`marketloop worker --db {redact(settings.db_url)}` to deliver launched campaigns."
            )
            uvicorn.run("marketloop.service.app:serve_worker_app", factory=True, workers=workers, **options)
            return
        app = create_app(settings, background=not no_worker)
        configure_access_log(access_log)
        err_console.print(f"MarketLoop on http://{host}:{port}  (dashboard: /, API docs: /v1/docs); Ctrl-C stops it.")
        worker = app.state.ml.worker
        if worker is None:
            err_console.print(
                "Dispatcher: not in this process; run `marketloop worker` to deliver launched campaigns."
                + (
                    " With DuckDB no other process can open the file, so nothing will be delivered."
                    if app.state.ml.store.dialect == "duckdb"
                    else ""
                )
            )
        else:
            err_console.print(f"Dispatcher: {worker.mode} ({worker.status()['note']}).")
            if worker.scheduler is not None:
                err_console.print("Scheduled jobs: on (`marketloop jobs list` shows when each runs).")
        uvicorn.run(app, **options)

    @app.command("worker")
    def worker(
        db: DbOption = None,
        sim: Annotated[str | None, typer.Option("--sim", help="Deliver to this simulator folder.")] = None,
        channels: Annotated[str | None, typer.Option("--channels", help="JSON/TOML channel routing.")] = None,
        once: Annotated[bool, typer.Option("--once", help="One pass over running campaigns, then exit.")] = False,
        json_out: JsonOption = False,
    ) -> None:
        """Deliver the due sends of running campaigns and run the scheduled jobs (profile refresh, gated
        recommender retraining, uplift refresh, the monitor), in a loop. For PostgreSQL/MySQL stores; with
        DuckDB `marketloop serve` does this itself."""
        import threading

        from marketloop.config import load_settings
        from marketloop.errors import InputError
        from marketloop.service.worker import Worker

        settings = load_settings(db_url=db, sim_dir=sim, channels_file=channels)
        with open_cli_store(settings) as store:
            w = Worker(store, settings)
            if not w.active:
                raise InputError(
                    "no channels configured and schedules are off: the worker has nothing to do",
                    field="channels",
                    value=None,
                    hint="Pass --channels FILE or --sim DIR (or set MARKETLOOP_CHANNELS_FILE), or turn "
                    "MARKETLOOP_RUN_SCHEDULES on.",
                )
            if once:
                results = w.run_once() if w.mode != "none" else {}
                jobs = w.run_jobs_once()
                if json_out:
                    emit_json({"campaigns": results, "jobs": jobs})
                else:
                    console.print(f"dispatched {len(results)} running campaign(s); ran {len(jobs)} due job(s)")
                    for cid, r in results.items():
                        console.print(f"  {cid}: {r}")
                    for job in jobs:
                        console.print(f"  job {job['job']}: {job['status']} ({job['message']})")
                return
            what = [f"delivering through {w.mode}"] if w.mode != "none" else []
            if w.scheduler is not None:
                what.append("running the scheduled jobs")
            err_console.print(f"Worker {' and '.join(what)}; Ctrl-C stops it.")
            jobs_thread = None
            if w.scheduler is not None:
                jobs_thread = threading.Thread(target=w.jobs_loop, name="marketloop-scheduler", daemon=True)
                jobs_thread.start()
            try:
                if w.mode != "none":
                    w.loop()
                elif jobs_thread is not None:
                    jobs_thread.join()
            except KeyboardInterrupt:
                w.stop()
