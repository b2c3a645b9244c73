"""What the running service holds: the store, settings, key verifier, rate limiter and caches."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from marketloop.config import Settings
from marketloop.service.keys import KeyVerifier
from marketloop.service.limits import RateLimiter


@dataclass
class ServiceState:
    settings: Settings
    store: Any  # marketloop.store.Store
    verifier: KeyVerifier
    limiter: RateLimiter
    session_secret: bytes
    #: bounds concurrent tracking writes; a request that cannot get a slot answers 503 (back-pressure)
    write_slots: threading.BoundedSemaphore
    #: the dispatcher running in this process (``service/worker.py``), or None when deliveries are left to
    #: `marketloop worker` processes (``serve --no-worker``) or to nobody (tests)
    worker: Any = None
    #: the Prometheus registry behind /metrics (``service/metrics.py``)
    metrics_registry: Any = None
    #: lazily loaded, process-wide objects (the recommendation service, ...), built once under the lock
    _cache: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, name: str, build):  # noqa: ANN001, ANN201
        """The object cached under `name`, built by `build()` the first time."""
        value = self._cache.get(name)
        if value is None:
            with self._lock:
                value = self._cache.get(name)
                if value is None:
                    value = build()
                    self._cache[name] = value
        return value

    def invalidate(self, name: str) -> None:
        with self._lock:
            self._cache.pop(name, None)

    def invalidate_all(self, keep: tuple[str, ...] = ("worker",)) -> list[str]:
        """Drop every cached object except those named in `keep` (they are rebuilt on next use), e.g.
        after an erasure, so that nothing loaded before still holds the customer. Returns what went."""
        with self._lock:
            gone = sorted(name for name in self._cache if name not in keep)
            for name in gone:
                del self._cache[name]
        return gone
