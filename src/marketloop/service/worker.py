"""The dispatcher loop: delivers the due sends of every running campaign.

With the embedded DuckDB store the server process owns the database file, so ``marketloop serve`` runs
this loop in a background thread. With PostgreSQL or MySQL it may run as its own process,
``marketloop worker``; several workers are safe because each campaign's dispatcher holds a lock
(``delivery/lock.py``).

Channels come from settings: ``sim_dir`` delivers to a simulator's customers (simulated time, so a
campaign completes at once), ``channels_file`` routes channels to real providers (SMTP, webhooks). With
neither, launched campaigns wait in the outbox and ``status()`` says why.
"""

from __future__ import annotations

import json
import logging
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from marketloop.config import Settings
from marketloop.errors import ConfigError
from marketloop.store.schema import campaigns

log = logging.getLogger("marketloop.worker")


def _mapping(path: Path, what: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what} file {str(path)!r} cannot be read: {exc}",
                          hint=f"Fix the file or unset MARKETLOOP_{what.upper()}_FILE.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} file {str(path)!r} must hold an object/table", hint="Wrap it in {}.")
    return data


@dataclass
class Worker:
    """One pass with :meth:`run_once`; :meth:`loop` repeats until :meth:`stop`."""

    store: object
    settings: Settings
    passes: int = 0
    last: dict = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        from marketloop.delivery.checks import SendPolicy

        s = self.settings
        self.policy = SendPolicy.model_validate(_mapping(s.send_policy_file, "send_policy")) if s.send_policy_file else SendPolicy()
        self.routing = _mapping(s.channels_file, "channels") if s.channels_file else None
        if s.sim_dir is not None and not Path(s.sim_dir).is_dir():
            raise ConfigError(f"sim_dir {str(s.sim_dir)!r} is not a folder",
                              hint="Point MARKETLOOP_SIM_DIR at a `marketloop sim generate` folder.")
        self.unsubscribe_link = None
        if self.routing is not None:
            from marketloop.delivery.channels.registry import ChannelRouter
            from marketloop.delivery.unsubscribe import link_builder

            ChannelRouter(self.routing).close()  # validate now, not at the first send
            self.unsubscribe_link = link_builder(s.public_url, s.session_key())  # List-Unsubscribe in e-mails

    @property
    def mode(self) -> str:
        return "simulator" if self.settings.sim_dir else "channels" if self.routing else "none"

    def running(self) -> list[str]:
        return list(self.store.read_sql(sa.select(campaigns.c.campaign_id).where(campaigns.c.status == "running")
                                        .order_by(campaigns.c.created_at))["campaign_id"])

    def run_once(self) -> dict[str, dict]:
        """Dispatch every running campaign once; return each one's result."""
        from marketloop.delivery.channels.registry import ChannelRouter
        from marketloop.delivery.dispatcher import Dispatcher
        from marketloop.delivery.simulate import run_simulated

        results: dict[str, dict] = {}
        if self.mode == "none":
            return results
        for campaign_id in self.running():
            try:
                if self.settings.sim_dir:
                    result = run_simulated(self.store, campaign_id, self.settings.sim_dir, policy=self.policy)
                else:
                    result = Dispatcher(self.store, ChannelRouter(self.routing), policy=self.policy,
                                        unsubscribe_link=self.unsubscribe_link).run(campaign_id)
                results[campaign_id] = result.as_dict()
            except Exception as exc:  # noqa: BLE001 - one failing campaign must not stop the others
                log.error("dispatch of campaign %s failed: %s", campaign_id, exc)
                results[campaign_id] = {"error": str(exc)}
        self.passes += 1
        self.last = results
        return results

    def loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.settings.worker_interval_s)

    def stop(self) -> None:
        self._stop.set()


@dataclass
class BackgroundWorker:
    worker: Worker
    thread: threading.Thread

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(timeout=30)


def start_background_worker(state) -> BackgroundWorker:  # noqa: ANN001
    worker = Worker(state.store, state.settings)
    state._cache["worker"] = worker
    thread = threading.Thread(target=worker.loop, name="marketloop-dispatcher", daemon=True)
    thread.start()
    return BackgroundWorker(worker, thread)
