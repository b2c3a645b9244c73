"""Time, injected: the one place that reads the wall clock.

Logic never calls ``datetime.now()`` itself. It takes a :class:`Clock` (the dispatcher, the worker, the
planner, flows) or a ``now`` argument, and falls back to :func:`utcnow`, the process's business clock,
which the ``clock`` setting chooses:

- ``system`` (the default): the wall clock;
- an ISO-8601 instant such as ``2011-09-01T09:00:00Z``: time starts there when the process first asks and
  runs at wall speed (a replay of a past day, or a store whose data lives in another period).

Leases between processes (dispatch locks) and bookkeeping stamps that say when something really happened
(audit log, migrations, API keys) use :func:`wall_utcnow`, which is always the wall clock.

Every time here is naive UTC, the store's convention. Tests freeze time with ``time-machine``, which
moves both clocks.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "check_cron",
    "Clock",
    "SystemClock",
    "SimClock",
    "ReplayClock",
    "parse_clock",
    "utcnow",
    "wall_utcnow",
    "as_naive_utc",
]


class Clock(Protocol):
    """What logic needs from time: ``now()`` in naive UTC, and whether it may jump ahead."""

    can_advance: bool

    def now(self) -> dt.datetime: ...

    def advance_to(self, when: dt.datetime) -> None: ...


def wall_utcnow() -> dt.datetime:
    """The wall clock, naive UTC (leases and bookkeeping; logic uses a :class:`Clock`)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class SystemClock:
    """Wall-clock time (naive UTC). It cannot jump ahead, so deferred sends wait for a later run."""

    can_advance = False

    def now(self) -> dt.datetime:
        return wall_utcnow()

    def advance_to(self, when: dt.datetime) -> None:  # pragma: no cover - never called when can_advance is False
        raise NotImplementedError("the system clock cannot be moved")

    def __repr__(self) -> str:
        return "SystemClock()"


@dataclass
class SimClock:
    """Simulated time for simulated campaigns and tests: when nothing is due, time jumps to the next
    due event (discrete-event simulation), so quiet hours, waits and backoff need no waiting."""

    current: dt.datetime
    can_advance: bool = True

    def now(self) -> dt.datetime:
        return self.current

    def advance_to(self, when: dt.datetime) -> None:
        self.current = max(self.current, when)


@dataclass
class ReplayClock:
    """Starts at ``start`` and runs at wall speed from the moment it is made (``time.monotonic``, which
    never jumps), e.g. to run the loop on a store cut at a past date."""

    start: dt.datetime
    can_advance: bool = False
    _origin: float = field(default_factory=time.monotonic, repr=False)

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self._origin)

    def advance_to(self, when: dt.datetime) -> None:  # pragma: no cover - never called when can_advance is False
        raise NotImplementedError("a replay clock runs at wall speed and cannot be moved")


def as_naive_utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime converted to naive UTC; a naive one is taken to be UTC already."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def parse_clock(value: str) -> Clock:
    """``system`` or an ISO-8601 instant (``2011-09-01T09:00:00Z``; naive means UTC). Raises ValueError
    with the expected forms otherwise (settings turn it into a ConfigError naming ``clock``)."""
    text = value.strip()
    if text.lower() == "system":
        return SystemClock()
    try:
        start = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected 'system' or an ISO-8601 instant such as 2011-09-01T09:00:00Z, got {value!r}"
        ) from None
    return ReplayClock(as_naive_utc(start))


_clocks: dict[str, Clock] = {}


def settings_clock(setting: str) -> Clock:
    """The clock for a ``clock`` setting, one per distinct value in a process (a replay clock keeps its
    origin across calls)."""
    if setting not in _clocks:
        _clocks[setting] = parse_clock(setting)
    return _clocks[setting]


def default_clock() -> Clock:
    """The process's business clock, from settings."""
    from marketloop.config import get_settings

    return settings_clock(get_settings().clock)


def utcnow() -> dt.datetime:
    """Now on the process's business clock (naive UTC)."""
    return default_clock().now()


def check_cron(name: str, expr: str) -> None:
    """Raise ConfigError naming the job when ``expr`` is neither ``off`` nor a cron expression."""
    from cronsim import CronSim, CronSimError

    from marketloop.errors import ConfigError

    if not isinstance(expr, str) or expr.strip().lower() == "off":
        return
    try:
        CronSim(expr, dt.datetime(2026, 1, 1))
    except CronSimError as exc:
        raise ConfigError(
            f"schedules.{name}: {expr!r} is not a cron expression ({exc})",
            hint='Use five fields, minute hour day month weekday, e.g. "0 2 * * *" (02:00 UTC daily), or "off".',
        ) from None
