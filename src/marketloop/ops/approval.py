"""Approval with the fairness guard: the one function the CLI, the API and the demo approve through.

The guard itself is ``strategy/fairness.py``; this adds what only this layer can: in ``flag`` mode, a
plan over the threshold is approved and raises a ``fairness`` alert (dashboard and webhook) naming the
groups; in ``block`` mode the approval is refused (409) and the alert says so.
"""

from __future__ import annotations

from typing import Any

from marketloop.clock import settings_clock


def approve_campaign(store: Any, settings: Any, campaign_id: str) -> tuple[str, dict | None]:
    """Approve ``campaign_id`` under the settings' guard; returns (old status, fairness report as a dict)."""
    from marketloop.ops.alerts import AlertSink
    from marketloop.store.campaigns import set_status
    from marketloop.strategy.fairness import FairnessBlocked, FairnessGuard

    clock = settings_clock(settings.clock)
    guard = FairnessGuard.from_settings(settings)
    try:
        report = guard.check(store, campaign_id, now=clock.now())  # block mode raises before any change
        old = set_status(store, campaign_id, "approved")
    except FairnessBlocked as exc:
        sink = AlertSink(store, settings, clock)
        sink.raise_alert(
            "fairness",
            f"campaign:{campaign_id}",
            f"approval refused: {exc.message}",
            severity="critical",
            details=exc.report.as_dict(),
        )
        sink.close()
        raise
    if report is not None and not report.fair:
        sink = AlertSink(store, settings, clock)
        sink.raise_alert(
            "fairness",
            f"campaign:{campaign_id}",
            f"campaign {campaign_id} approved with uneven offers: "
            + "; ".join(v.text() for v in report.violations[:5]),
            details=report.as_dict(),
        )
        sink.close()
    return old, report.as_dict() if report is not None else None
