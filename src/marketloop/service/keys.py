"""API keys: creation, listing, revocation and verification.

A key looks like ``mlk_<key_id>_<secret>``. ``key_id`` is public (it appears in lists, the audit log and
the access log); only the SHA-256 of the secret is stored. Verification looks the key id up, compares
digests in constant time and caches the answer for a few seconds so that a busy route does not read the
store on every request; revoking in the server's process clears the cache at once, revoking from another process
(`marketloop keys revoke` against PostgreSQL) takes effect within :data:`CACHE_SECONDS` plus one request
(an expired entry still answers while a background thread re-reads it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from marketloop.clock import wall_utcnow
from marketloop.errors import InputError, NotFoundError
from marketloop.store.schema import API_ROLES, api_keys

log = logging.getLogger("marketloop.service")

PREFIX = "mlk_"
CACHE_SECONDS = 5.0

#: What each role may do. ``read``: every GET; ``recs``: the recommendation routes; ``write``: marketing
#: actions (plan, approve, launch, copy, consents); ``ingest``: event tracking; ``admin``: keys, erasure, the
#: audit log. ``storefront`` is the shop's own front end: recommendations and event tracking only (no customer
#: profiles, no campaigns), at its own, much higher rate limit (settings ``api_role_rate_limits``).
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "recs", "write", "ingest", "admin"}),
    "marketer": frozenset({"read", "recs", "write"}),
    "analyst": frozenset({"read", "recs"}),
    "ingest": frozenset({"ingest"}),
    "storefront": frozenset({"recs", "ingest"}),
}
if set(ROLE_SCOPES) != set(API_ROLES):  # a role without scopes (or scopes without a role) is a programming error
    raise RuntimeError(f"roles and scopes disagree: {sorted(set(ROLE_SCOPES) ^ set(API_ROLES))}")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's public id, its name and role."""

    key_id: str
    name: str
    role: str

    @property
    def scopes(self) -> frozenset[str]:
        return ROLE_SCOPES[self.role]


@dataclass(frozen=True)
class CreatedKey:
    principal: Principal
    token: str  # the full key, shown once


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _utcnow() -> dt.datetime:
    return wall_utcnow()


def check_role(role: str) -> str:
    if role not in ROLE_SCOPES:
        raise InputError(
            f"role {role!r} is not one of {', '.join(API_ROLES)}",
            field="role",
            value=role,
            hint="admin: everything; marketer: read and run campaigns; analyst: read only; "
            "ingest: event tracking only; storefront: recommendations and event tracking, at storefront rates.",
        )
    return role


def create_key(store, name: str, role: str) -> CreatedKey:  # noqa: ANN001
    """Create a key; the returned token is the only time the secret is visible."""
    name = name.strip()
    if not name or len(name) > 128:
        raise InputError(
            f"key name {name!r} must be 1 to 128 characters",
            field="name",
            value=name,
            hint="Name the person or system that will use the key, e.g. 'shop-frontend'.",
        )
    check_role(role)
    key_id = secrets.token_hex(6)
    secret = secrets.token_hex(32)  # hex: no "_" inside, so the key splits cleanly and selects with a double-click
    with store.begin() as conn:
        conn.execute(
            api_keys.insert().values(
                key_id=key_id, name=name, role=role, secret_sha256=_digest(secret), created_at=_utcnow()
            )
        )
    return CreatedKey(Principal(key_id, name, role), f"{PREFIX}{key_id}_{secret}")


def list_keys(store) -> list[dict]:  # noqa: ANN001
    rows = store.read_sql(
        sa.select(
            api_keys.c.key_id, api_keys.c.name, api_keys.c.role, api_keys.c.created_at, api_keys.c.revoked_at
        ).order_by(api_keys.c.created_at, api_keys.c.key_id)
    )
    return [
        {
            "key_id": r.key_id,
            "name": r.name,
            "role": r.role,
            "created_at": _iso(r.created_at),
            "revoked_at": _iso(r.revoked_at),
            "active": _iso(r.revoked_at) is None,
        }
        for r in rows.itertuples()
    ]


def _iso(value) -> str | None:  # noqa: ANN001
    if value is None or (not isinstance(value, str) and value != value):  # None or NaT
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def revoke_key(store, key_id: str) -> Principal:  # noqa: ANN001
    key_id = key_id.removeprefix(PREFIX).split("_")[0]
    with store.begin() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None:
            raise NotFoundError(f"no API key with id {key_id!r}", hint="List keys with `marketloop keys list`.")
        if row.revoked_at is None:
            conn.execute(api_keys.update().where(api_keys.c.key_id == key_id).values(revoked_at=_utcnow()))
    return Principal(row.key_id, row.name, row.role)


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, else None."""
    if not token.startswith(PREFIX):
        return None
    key_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or not key_id or not secret or len(key_id) > 32:
        return None
    return key_id, secret


class KeyVerifier:
    """Verifies tokens against the store, caching each key id's row for :data:`CACHE_SECONDS`."""

    def __init__(self, store, ttl: float = CACHE_SECONDS) -> None:  # noqa: ANN001
        self.store = store
        self.ttl = ttl
        self._cache: dict[str, tuple[float, tuple | None]] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _fresh(self, key_id: str) -> tuple[float, tuple | None] | None:
        hit = self._cache.get(key_id)
        return hit if hit is not None and time.monotonic() - hit[0] < self.ttl else None

    def _row(self, key_id: str) -> tuple | None:
        """The key's row. A fresh cache entry answers at once; an expired one answers too (stale) while one
        background thread re-reads the row: a busy server must not stall every request of a key each time
        its entry expires (reading the store from a thread that competes with a busy event loop for the GIL
        can take hundreds of milliseconds). Only a key never seen reads the store in the caller."""
        hit = self._cache.get(key_id)
        if hit is not None:
            if time.monotonic() - hit[0] >= self.ttl:
                self._reload_later(key_id)
            return hit[1]
        return self._load(key_id)

    def _reload_later(self, key_id: str) -> None:
        with self._lock:
            if key_id in self._loading:
                return
            self._loading[key_id] = threading.Lock()
        threading.Thread(target=self._load, args=(key_id, True), name="marketloop-key-reload", daemon=True).start()

    def _load(self, key_id: str, background: bool = False) -> tuple | None:
        with self._lock:
            gate = self._loading.setdefault(key_id, threading.Lock())
        # one store read per key at a time: requests behind the first wait for its answer
        with gate:
            hit = self._fresh(key_id)
            if hit is not None:
                if background:
                    with self._lock:
                        self._loading.pop(key_id, None)
                return hit[1]
            now = time.monotonic()
            try:
                with self.store.connect() as conn:
                    row = conn.execute(
                        sa.select(
                            api_keys.c.name, api_keys.c.role, api_keys.c.secret_sha256, api_keys.c.revoked_at
                        ).where(api_keys.c.key_id == key_id)
                    ).first()
                value = None if row is None or row.revoked_at is not None else (row.name, row.role, row.secret_sha256)
                with self._lock:
                    if len(self._cache) > 10_000:  # a flood of made-up key ids must not grow memory
                        self._cache.clear()
                    self._cache[key_id] = (now, value)
            except Exception:  # a failed background re-read keeps the last answer; callers see the error
                if not background:
                    raise
                log.warning("re-reading API key %s failed; keeping the cached answer", key_id)
                value = None
            finally:
                with self._lock:
                    self._loading.pop(key_id, None)
        return value

    def cached(self, key_id: str) -> bool:
        """Whether `key_id`'s row is cached (fresh, or stale and being re-read): verifying it reads nothing
        from the store in the caller."""
        return key_id in self._cache

    def verify(self, token: str) -> Principal | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        row = self._row(key_id)
        if row is None or not hmac.compare_digest(row[2], _digest(secret)):
            return None
        return Principal(key_id, row[0], row[1])

    def principal(self, key_id: str) -> Principal | None:
        """The active key with this id (for signed dashboard sessions, which carry only the id)."""
        row = self._row(key_id)
        return None if row is None else Principal(key_id, row[0], row[1])

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._cache.pop(key_id, None)
