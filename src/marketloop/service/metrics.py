"""Prometheus metrics at ``/metrics`` (prometheus-client, text exposition format).

Two kinds of figures:

- **measured in this process**, by the request middleware (``app.AccessLog``): requests by method, route
  template and status (``marketloop_http_requests_total``) and their latency by route
  (``marketloop_http_request_duration_seconds``). The route is the template (``/v1/customers/{customer_id}``),
  never the raw path, so ids and tokens never become label values. Per request this costs two counter
  updates on cached label children (no label lookup on the hot path);
- **read from the store at scrape time** (:class:`StoreCollector`), so they are right whichever process
  delivered or trained: outbox depth by state, sends and outcomes by result, the dispatcher's lag (the age
  of the oldest due send, and seconds since this process's dispatcher last passed), the age of each
  promoted model and of the profiles, the last run of each job, open alerts by kind.

Each app has its own registry (no process-global state), so several apps in one process (tests) do not mix.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from marketloop.clock import settings_clock
from marketloop.store import schema

log = logging.getLogger("marketloop.metrics")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class RequestMetrics:
    """The request counters, with label children cached per (method, route, status)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "marketloop_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "marketloop_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        pair = self._children.get(key)
        if pair is None:
            pair = (self.requests.labels(method, route, str(status)), self.latency.labels(route))
            self._children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class StoreCollector(Collector):
    """Figures read from the store when Prometheus scrapes (see the module docstring)."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self):  # noqa: ANN201 - an iterator of metric families, as prometheus-client expects
        store = self.state.store
        now = settings_clock(self.state.settings.clock).now()
        try:
            yield from self._outbox(store, now)
            yield from self._models(store, now)
            yield from self._jobs_and_alerts(store)
        except Exception as exc:  # noqa: BLE001 - a store that does not answer must not break the scrape
            log.warning("metrics: store figures unavailable: %s", exc)
            up = _gauge("marketloop_store_up", "Whether the store answered the scrape")
            up.add_metric([], 0)
            yield up
            return
        up = _gauge("marketloop_store_up", "Whether the store answered the scrape")
        up.add_metric([], 1)
        yield up
        worker = self.state.worker
        if worker is not None and worker.last_pass_at is not None:
            lag = _gauge("marketloop_worker_seconds_since_pass", "Seconds since this process's dispatcher last passed")
            lag.add_metric([], max(0.0, (worker.clock.now() - worker.last_pass_at).total_seconds()))
            yield lag

    def _outbox(self, store: Any, now: Any):  # noqa: ANN202
        s, o = schema.sends, schema.send_outcomes
        with store.connect() as conn:
            by_status = conn.execute(sa.select(s.c.status, sa.func.count()).group_by(s.c.status)).all()
            oldest = conn.execute(
                sa.select(sa.func.min(sa.func.coalesce(s.c.next_attempt_at, s.c.created_at))).where(
                    s.c.status == "queued", sa.func.coalesce(s.c.next_attempt_at, s.c.created_at) <= now
                )
            ).scalar()
            outcomes = conn.execute(sa.select(o.c.kind, sa.func.count()).group_by(o.c.kind)).all()
        counts = {str(k): int(v) for k, v in by_status}
        depth = _gauge("marketloop_outbox_depth", "Messages waiting in the outbox by state", ["state"])
        for state in ("waiting", "queued", "sending"):
            depth.add_metric([state], counts.get(state, 0))
        yield depth
        results = GaugeMetricFamily(
            "marketloop_sends", "Messages by final result (rate() of it is the send rate)", labels=["result"]
        )
        for state in ("sent", "skipped", "dead", "holdout"):
            results.add_metric([state], counts.get(state, 0))
        yield results
        kinds = _gauge("marketloop_send_outcomes", "Outcomes recorded for sends by kind", ["kind"])
        for kind, n in outcomes:
            kinds.add_metric([str(kind)], int(n))
        yield kinds
        lag = _gauge("marketloop_outbox_oldest_due_seconds", "Age of the oldest send that is due and not delivered")
        lag.add_metric([], (now - oldest).total_seconds() if oldest is not None else 0.0)
        yield lag

    def _models(self, store: Any, now: Any):  # noqa: ANN202
        r, p = schema.recs_models, schema.customer_profiles
        with store.connect() as conn:
            promoted = conn.execute(
                sa.select(r.c.name, r.c.version, r.c.promoted_at).where(r.c.status == "promoted")
            ).all()
            profiles = conn.execute(sa.select(sa.func.max(p.c.computed_at))).scalar()
        age = _gauge("marketloop_model_age_seconds", "Seconds since each served model was promoted", ["model"])
        version = _gauge("marketloop_model_version", "The served version of each model", ["model"])
        for name, v, at in promoted:
            if at is not None:
                age.add_metric([str(name)], max(0.0, (now - at).total_seconds()))
            version.add_metric([str(name)], int(v))
        if profiles is not None:
            age.add_metric(["profiles"], max(0.0, (now - profiles).total_seconds()))
        yield age
        yield version

    def _jobs_and_alerts(self, store: Any):  # noqa: ANN202
        j, a = schema.job_runs, schema.alerts
        with store.connect() as conn:
            latest = sa.select(j.c.job, sa.func.max(j.c.started_at).label("at")).group_by(j.c.job).subquery()
            runs = conn.execute(
                sa.select(j.c.job, j.c.status, j.c.finished_at).join(
                    latest, sa.and_(latest.c.job == j.c.job, latest.c.at == j.c.started_at)
                )
            ).all()
            alerts = conn.execute(
                sa.select(a.c.kind, sa.func.count()).where(a.c.resolved_at.is_(None)).group_by(a.c.kind)
            ).all()
        ok = _gauge("marketloop_job_last_success", "1 when the job's last run succeeded (ok, skipped or kept)", ["job"])
        when = _gauge("marketloop_job_last_finished_timestamp_seconds", "When the job last finished", ["job"])
        for job, status, finished in runs:
            ok.add_metric([str(job)], 0 if status == "failed" else 1)
            if finished is not None:
                when.add_metric([str(job)], finished.replace(tzinfo=dt.UTC).timestamp())
        yield ok
        yield when
        open_alerts = _gauge("marketloop_alerts_open", "Open alerts by kind", ["kind"])
        for kind, n in alerts:
            open_alerts.add_metric([str(kind)], int(n))
        yield open_alerts


def make_registry(state: Any) -> tuple[CollectorRegistry, RequestMetrics]:
    registry = CollectorRegistry()
    requests = RequestMetrics(registry)
    registry.register(StoreCollector(state))
    return registry, requests
