"""The dispatcher loop: delivers the due sends of every running campaign.

``marketloop serve`` runs this loop in a background thread (with the embedded DuckDB store it has to:
the server process owns the database file). With PostgreSQL or MySQL it may run as its own process
instead, ``marketloop worker`` (and ``serve --no-worker``); several workers are safe because each
campaign's dispatcher holds a lock (``delivery/lock.py``): a campaign another worker is delivering is
left to it.

Channels come from settings: ``sim_dir`` delivers to a simulator's customers (simulated time, so a
campaign completes in one pass), ``channels_file`` routes channels to real providers (SMTP, webhooks).
With neither, launched campaigns wait in the outbox and :meth:`Worker.status` says why.

The same worker runs the scheduled jobs (``ops/schedule.py``: profile refresh, gated recommender
retraining, uplift refresh, the monitor, and plugin jobs such as forecasts) in a second thread, so a long
retraining never delays a send. When jobs are due comes from the worker's clock.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from pydantic import ValidationError

from marketloop.clock import Clock, settings_clock
from marketloop.config import Settings
from marketloop.errors import ConfigError
from marketloop.store.schema import campaigns

log = logging.getLogger("marketloop.worker")

MODES = ("simulator", "channels", "none")


def _mapping(path: Path, what: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{what} file {str(path)!r} cannot be read: {exc}",
            hint=f"Fix the file or unset MARKETLOOP_{what.upper()}_FILE.",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} file {str(path)!r} must hold an object/table", hint="Wrap it in {}.")
    return data


@dataclass
class Worker:
    """One pass with :meth:`run_once`; :meth:`loop` repeats until :meth:`stop`. Settings are checked
    when the worker is made (a bad channels or policy file fails the start, not the first send)."""

    store: object
    settings: Settings
    passes: int = 0
    #: each campaign's result in the last pass: the dispatcher's counts, or ``{"error": ...}`` / ``{"stopped": ...}``
    last: dict = field(default_factory=dict)
    last_pass_at: dt.datetime | None = None
    last_pass_seconds: float | None = None
    #: a failure of the last pass as a whole (e.g. the store did not answer); None when it went through
    last_error: str | None = None
    #: business time for the dispatcher (quiet hours, backoff) and the pass stamps; from settings (`clock`) when None
    clock: Clock | None = None
    #: the scheduled jobs (None when `run_schedules` is off)
    scheduler: object = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        from marketloop.delivery.checks import SendPolicy

        s = self.settings
        if self.clock is None:
            self.clock = settings_clock(s.clock)
        try:
            self.policy = (
                SendPolicy.model_validate(_mapping(s.send_policy_file, "send_policy"))
                if s.send_policy_file
                else SendPolicy()
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(policy)"
            raise ConfigError(
                f"send_policy file {str(s.send_policy_file)!r}: {where}: {first['msg']}",
                hint=f"Fields: {', '.join(SendPolicy.model_fields)}.",
            ) from None
        self.routing = _mapping(s.channels_file, "channels") if s.channels_file else None
        if s.sim_dir is not None and not Path(s.sim_dir).is_dir():
            raise ConfigError(
                f"sim_dir {str(s.sim_dir)!r} is not a folder",
                hint="Point MARKETLOOP_SIM_DIR at a `marketloop sim generate` folder.",
            )
        if s.sim_dir is not None and self.routing is not None:
            log.warning("both sim_dir and channels_file are set: delivering to the simulator, not to the channels")
        self.unsubscribe_link = None
        if self.routing is not None:
            from marketloop.delivery.channels.registry import ChannelRouter
            from marketloop.delivery.unsubscribe import link_builder

            ChannelRouter(self.routing).close()  # validate now, not at the first send
            self.unsubscribe_link = link_builder(s.public_url, s.session_key())  # List-Unsubscribe in e-mails
        if s.run_schedules and self.scheduler is None:
            from marketloop.ops.schedule import Scheduler

            self.scheduler = Scheduler(self.store, s, self.clock)  # checks the alert webhook settings now

    @property
    def mode(self) -> str:
        """``simulator``, ``channels`` or ``none`` (nothing to deliver with)."""
        return "simulator" if self.settings.sim_dir else "channels" if self.routing else "none"

    def status(self) -> dict:
        """What the worker does and how its last pass went (no personal data)."""
        note = {
            "simulator": "launched campaigns are delivered to the simulated customers of sim_dir (simulated time)",
            "channels": "launched campaigns are delivered through the channels of channels_file",
            "none": "no channels configured: launched campaigns wait in the outbox; set MARKETLOOP_SIM_DIR or "
            "MARKETLOOP_CHANNELS_FILE (serve --sim / --channels), or run `marketloop worker`",
        }[self.mode]
        return {
            "mode": self.mode,
            "schedules": self.scheduler is not None,
            "passes": self.passes,
            "last_pass_at": self.last_pass_at.isoformat() if self.last_pass_at else None,
            "last_pass_seconds": self.last_pass_seconds,
            "last_error": self.last_error,
            "interval_s": self.settings.worker_interval_s,
            "note": note,
        }

    def running(self) -> list[str]:
        return list(
            self.store.read_sql(
                sa.select(campaigns.c.campaign_id)
                .where(campaigns.c.status == "running")
                .order_by(campaigns.c.created_at)
            )["campaign_id"]
        )

    def _dispatch(self, campaign_id: str) -> dict:
        from marketloop.delivery.channels.registry import ChannelRouter
        from marketloop.delivery.dispatcher import Dispatcher
        from marketloop.delivery.simulate import run_simulated
        from marketloop.store.campaigns import outbox_counts

        counts = outbox_counts(self.store, campaign_id)
        if counts["waiting"] and not (counts["queued"] or counts["sending"]):
            # a bandit campaign waits for its next wave's allocation (`campaign launch --bandit-waves`);
            # dispatching would find nothing, and in simulation would replay the untreated customers again
            return {"stopped": "waiting for allocation"}
        if self.mode == "simulator":
            return run_simulated(self.store, campaign_id, self.settings.sim_dir, policy=self.policy).as_dict()
        return (
            Dispatcher(
                self.store,
                ChannelRouter(self.routing),
                policy=self.policy,
                clock=self.clock,
                unsubscribe_link=self.unsubscribe_link,
            )
            .run(campaign_id)
            .as_dict()
        )

    def run_once(self) -> dict[str, dict]:
        """Dispatch every running campaign once; return each one's result. A failing campaign is logged
        and reported in its result; it does not stop the others."""
        from marketloop.delivery.lock import LockHeld

        started = time.perf_counter()
        results: dict[str, dict] = {}
        if self.mode != "none":
            for campaign_id in self.running():
                try:
                    results[campaign_id] = self._dispatch(campaign_id)
                except LockHeld as exc:  # another worker is delivering it: leave it to that one
                    log.info("campaign %s: %s", campaign_id, exc.message)
                    results[campaign_id] = {"stopped": "dispatched by another worker"}
                except Exception as exc:  # noqa: BLE001 - one failing campaign must not stop the others
                    log.error("dispatch of campaign %s failed: %s", campaign_id, exc)
                    results[campaign_id] = {"error": str(exc).splitlines()[0][:300]}
        self.passes += 1
        self.last = results
        self.last_error = None
        self.last_pass_at = self.clock.now()
        self.last_pass_seconds = round(time.perf_counter() - started, 3)
        return results

    def loop(self) -> None:
        """Pass after pass until :meth:`stop`; a failed pass (store gone, ...) is logged and retried."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the loop must outlive a failed pass
                log.exception("dispatcher pass failed")
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
                self.last_pass_at = self.clock.now()
            self._stop.wait(self.settings.worker_interval_s)

    def run_jobs_once(self) -> list[dict]:
        """Run the jobs that are due now (none when schedules are off)."""
        return self.scheduler.tick() if self.scheduler is not None else []

    def jobs_loop(self) -> None:
        """Look for due jobs every ``schedule_check_s`` until :meth:`stop`."""
        while not self._stop.is_set():
            try:
                self.run_jobs_once()
            except Exception:  # the loop must outlive a failed look (store gone, ...)
                log.exception("scheduler pass failed")
            self._stop.wait(self.settings.schedule_check_s)

    @property
    def active(self) -> bool:
        """Whether there is anything to run: deliveries or scheduled jobs."""
        return self.mode != "none" or self.scheduler is not None

    def stop(self) -> None:
        self._stop.set()


@dataclass
class BackgroundWorker:
    worker: Worker
    threads: list[threading.Thread]

    def stop(self) -> None:
        self.worker.stop()
        for thread in self.threads:
            thread.join(timeout=30)


def start_background_worker(worker: Worker) -> BackgroundWorker:
    """Run the dispatcher (``worker.loop``) and the scheduler (``worker.jobs_loop``) in daemon threads."""
    threads = []
    if worker.mode != "none":
        threads.append(threading.Thread(target=worker.loop, name="marketloop-dispatcher", daemon=True))
    if worker.scheduler is not None:
        threads.append(threading.Thread(target=worker.jobs_loop, name="marketloop-scheduler", daemon=True))
    for thread in threads:
        thread.start()
    return BackgroundWorker(worker, threads)
