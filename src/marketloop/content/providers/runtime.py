"""What every provider call goes through: retries with backoff, a response cache, accounting.

:class:`TextClient` and :class:`EmbeddingClient` wrap a provider. Each call is recorded in a
:class:`UsageLedger` (provider, model, task, latency, tokens, attempts, cache hit, error) that the
dashboard can later show; :meth:`UsageLedger.summary` aggregates it per provider.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from marketloop.clock import wall_utcnow
from marketloop.content.providers.base import (
    EmbeddingProvider,
    ProviderError,
    TextProvider,
    TextRequest,
    TextResult,
    TransientProviderError,
)

log = logging.getLogger(__name__)


@dataclass
class CallRecord:
    provider: str
    model: str
    task: str
    started_at: str
    latency_ms: float
    prompt_tokens: int | None
    completion_tokens: int | None
    attempts: int
    cached: bool
    ok: bool
    error: str | None = None


@dataclass
class UsageLedger:
    """In-memory log of provider calls (thread-safe append)."""

    records: list[CallRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for r in self.records:
            s = out.setdefault(
                r.provider,
                {
                    "calls": 0,
                    "cached": 0,
                    "errors": 0,
                    "latency_ms_total": 0.0,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                },
            )
            s["calls"] += 1
            s["cached"] += int(r.cached)
            s["errors"] += int(not r.ok)
            s["latency_ms_total"] += r.latency_ms
            s["prompt_tokens"] += r.prompt_tokens or 0
            s["completion_tokens"] += r.completion_tokens or 0
        for s in out.values():
            s["latency_ms_mean"] = s["latency_ms_total"] / s["calls"] if s["calls"] else 0.0
        return out

    def as_rows(self) -> list[dict]:
        return [asdict(r) for r in self.records]


class ResponseCache:
    """LRU cache of text replies keyed by a hash of (provider identity, request)."""

    def __init__(self, max_items: int = 2048) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, TextResult] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> TextResult | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: str, value: TextResult) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)


def _now() -> str:
    return wall_utcnow().isoformat(timespec="milliseconds")


def call_with_retries(
    fn: Callable[[], object], *, max_retries: int, backoff_s: float, sleep: Callable[[float], None] = time.sleep
) -> tuple[object, int]:
    """Run `fn`, retrying TransientProviderError with exponential backoff; return (result, attempts)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(), attempt
        except TransientProviderError as exc:
            if attempt > max_retries:
                raise
            delay = backoff_s * (2 ** (attempt - 1))
            log.info("transient provider failure (%s); retry %d in %.2fs", exc.message, attempt, delay)
            sleep(delay)


class TextClient:
    """A text provider with retries, caching and accounting."""

    def __init__(
        self,
        provider: TextProvider,
        *,
        ledger: UsageLedger | None = None,
        cache: ResponseCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.ledger = ledger if ledger is not None else UsageLedger()
        self.cache = cache if cache is not None else ResponseCache()
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self.provider.name

    def cache_key(self, request: TextRequest) -> str:
        blob = json.dumps(
            {
                "provider": self.provider.name,
                "id": self.provider.describe(),
                "request": request.model_dump(mode="json"),
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def generate(self, request: TextRequest) -> tuple[TextResult, CallRecord]:
        opts = self.provider.options
        key = self.cache_key(request) if opts.cache else None
        started, t0 = _now(), time.perf_counter()
        if key is not None and (hit := self.cache.get(key)) is not None:
            record = CallRecord(
                self.provider.name,
                hit.model,
                request.task,
                started,
                (time.perf_counter() - t0) * 1000,
                hit.prompt_tokens,
                hit.completion_tokens,
                0,
                True,
                True,
            )
            self.ledger.add(record)
            return hit, record
        try:
            result, attempts = call_with_retries(
                lambda: self.provider.generate(request),
                max_retries=opts.max_retries,
                backoff_s=opts.backoff_s,
                sleep=self._sleep,
            )
        except ProviderError as exc:
            record = CallRecord(
                self.provider.name,
                self.provider.describe(),
                request.task,
                started,
                (time.perf_counter() - t0) * 1000,
                None,
                None,
                opts.max_retries + 1,
                False,
                False,
                exc.message,
            )
            self.ledger.add(record)
            raise
        if not isinstance(result, TextResult):
            raise TypeError(f"provider {self.provider.name!r} returned {type(result).__name__}, expected TextResult")
        record = CallRecord(
            self.provider.name,
            result.model or self.provider.describe(),
            request.task,
            started,
            (time.perf_counter() - t0) * 1000,
            result.prompt_tokens,
            result.completion_tokens,
            attempts,
            False,
            True,
        )
        self.ledger.add(record)
        if key is not None:
            self.cache.put(key, result)
        return result, record


class EmbeddingCache:
    """On-disk cache of embeddings keyed by (model identity, sha256 of the text), in one SQLite file.

    Re-encoding thousands of reviews costs minutes on a laptop CPU; this makes the second run free.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS emb (model TEXT, key TEXT, vec BLOB, PRIMARY KEY (model, key))")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, vec FROM emb WHERE model = ? AND key IN ({marks})", [model, *chunk])
                for k, blob in rows:
                    found[k] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self._connect() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                [(model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )


class EmbeddingClient:
    """An embedding provider with an optional on-disk cache, retries and accounting."""

    def __init__(
        self,
        provider: EmbeddingProvider,
        *,
        cache: EmbeddingCache | None = None,
        ledger: UsageLedger | None = None,
        batch_size: int = 256,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.provider = provider
        self.cache = cache
        self.ledger = ledger if ledger is not None else UsageLedger()
        self.batch_size = batch_size
        self.progress = progress

    @property
    def name(self) -> str:
        return self.provider.name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t if isinstance(t, str) else "" for t in texts]
        model = self.provider.describe()
        keys = [EmbeddingCache.key(t) for t in texts]
        found = self.cache.get_many(model, list(dict.fromkeys(keys))) if self.cache else {}
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        by_key = {k: t for k, t in zip(keys, texts, strict=True)}
        opts = self.provider.options
        done = len(keys) - len(missing)
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            batch = [by_key[k] for k in chunk]
            started, t0 = _now(), time.perf_counter()
            vecs, attempts = call_with_retries(
                lambda b=batch: self.provider.embed(b), max_retries=opts.max_retries, backoff_s=opts.backoff_s
            )
            if not isinstance(vecs, np.ndarray):
                raise TypeError(
                    f"provider {self.provider.name!r} returned {type(vecs).__name__}, expected a NumPy array"
                )
            new = {k: v for k, v in zip(chunk, vecs, strict=True)}
            found.update(new)
            if self.cache:
                self.cache.put_many(model, new)
            self.ledger.add(
                CallRecord(
                    self.provider.name,
                    model,
                    "embed",
                    started,
                    (time.perf_counter() - t0) * 1000,
                    sum(len(t) for t in batch) // 4,
                    None,
                    attempts,
                    False,
                    True,
                )
            )
            done += len(chunk)
            if self.progress:
                self.progress(done, len(keys))
        if not texts:
            dim = self.provider.capabilities.dimension or 0
            return np.zeros((0, dim), dtype=np.float32)
        return np.vstack([found[k] for k in keys]).astype(np.float32)
