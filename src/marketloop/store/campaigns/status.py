"""The campaign status machine: its statuses, the changes it allows, and the actions people take.

::

    planned  --approve--> approved --launch--> running --pause--> paused --resume--> running
    planned, approved, paused --> cancelled;   running --> completed (the dispatcher, once the outbox is done)

:data:`TRANSITIONS` is the one table: :func:`marketloop.store.campaigns.set_status` refuses any other
change, and the CLI and the API offer exactly its actions (:func:`allowed_actions`).
"""

from __future__ import annotations

from typing import get_args

from marketloop.errors import ConflictError, InputError
from marketloop.store.campaigns.plan import CampaignStatus

STATUSES: tuple[str, ...] = get_args(CampaignStatus)

#: Every allowed change of status, ``from -> {to: action}``. ``action`` names the command a person gives
#: for the change (``marketloop campaign approve ID``, ``POST /v1/campaigns/ID/approve``); ``None`` marks
#: a change only code makes: the dispatcher completes a campaign whose outbox is done, and cancelling is
#: offered to code (``set_status(store, id, "cancelled")``), not as a command.
TRANSITIONS: dict[str, dict[str, str | None]] = {
    "planned": {"approved": "approve", "cancelled": None},
    "approved": {"running": "launch", "cancelled": None},
    "running": {"paused": "pause", "completed": None},
    "paused": {"running": "resume", "cancelled": None},
}

#: Statuses with no way out.
FINAL: tuple[str, ...] = tuple(s for s in STATUSES if s not in TRANSITIONS)

#: The actions people take, in the order of the campaign's life: action -> (from, to).
ACTIONS: dict[str, tuple[str, str]] = {
    action: (old, new) for old, changes in TRANSITIONS.items() for new, action in changes.items() if action
}

#: Statuses of a launched campaign: its sends are history (measurement, the uplift models' training data).
LAUNCHED: tuple[str, ...] = ("running", "paused", "completed")

#: Statuses in which launching may write the outbox: ``approved`` (the launch itself), and ``running`` or
#: ``paused``, where launching again adds only the rows still missing (after a crash during the launch).
LAUNCHABLE: tuple[str, ...] = ("approved", "running", "paused")


#: What each campaign status means, for people (CLI help, the API's glossary, the dashboard's badges).
CAMPAIGN_STATUS_HELP: dict[str, str] = {
    "planned": "the plan and its predicted effect are stored; nothing is sent until it is approved",
    "approved": "someone agreed to send it (the fairness guard looked first); launching writes the outbox",
    "running": "launched: its messages are in the outbox and the dispatcher delivers them as they fall due",
    "paused": "sending stopped before the next batch; resume to go on",
    "completed": "every message is done (sent, skipped or failed); outcomes keep counting until the "
    "attribution window closes",
    "cancelled": "stopped for good before or during sending; nothing more is sent",
}

#: What each status of one message in the outbox means.
SEND_STATUS_HELP: dict[str, str] = {
    "waiting": "waits for the bandit to choose its variant in the next wave",
    "queued": "in the outbox, due now or at its send time (or after the customer's quiet hours)",
    "sending": "handed to the channel, waiting for its answer",
    "sent": "delivered to the channel",
    "skipped": "not sent: the send-time checks refused it (no consent, suppressed, frequency cap); it stays in "
    "the treated arm of the measurement",
    "dead": "failed on every attempt (the channel kept refusing); not retried any more",
    "holdout": "held out at random at launch and never messaged, to measure the effect against",
}

#: What the counts of one dispatch run (`campaign launch` / `campaign dispatch`) mean.
DISPATCH_COUNT_HELP: dict[str, str] = {
    "sent": "messages delivered in this run",
    "skipped": "messages the send-time checks refused in this run (by reason below)",
    "deferred": "times a message was moved to a later time (the customer's quiet hours, or the plan's send "
    "time); it is sent then, so one message can be deferred more than once and still be sent",
    "retried": "failed attempts that will be tried again after a back-off",
    "dead": "messages that failed on their last attempt",
    "stopped": "why the run ended: completed (nothing left to send: the campaign is completed), waiting until "
    "a time (the next message is due later, e.g. after quiet hours: run again then, or let the worker do it), "
    "waiting for allocation (a bandit's next wave), paused, limit (the message limit was reached), or the "
    "campaign's lock was taken over by another dispatcher",
}


def status_glossary() -> dict[str, dict[str, str]]:
    """Every status word shown to people, with its meaning: campaign statuses, outbox statuses, dispatch counts."""
    return {
        "campaign": dict(CAMPAIGN_STATUS_HELP),
        "send": dict(SEND_STATUS_HELP),
        "dispatch": dict(DISPATCH_COUNT_HELP),
    }


def help_lines(meanings: dict[str, str]) -> str:
    """The meanings as lines for `--help` (one paragraph per word: Typer keeps blank-line-separated lines)."""
    return "\n\n".join(f"{word}: {text}." for word, text in meanings.items())


def allowed_changes(status: str) -> list[str]:
    """The statuses a campaign in ``status`` may move to (none for a final status)."""
    return sorted(TRANSITIONS.get(status, {}))


def allowed_actions(status: str) -> list[str]:
    """The actions a person can take on a campaign in ``status`` (what the API lists as ``allowed_actions``)."""
    return [action for action, (old, _) in ACTIONS.items() if old == status]


def action_change(action: str) -> tuple[str, str]:
    """``(from, to)`` of ``action``; InputError naming the known actions for anything else."""
    if action not in ACTIONS:
        raise InputError(
            f"action: expected one of {', '.join(ACTIONS)}, got {action!r}",
            field="action",
            value=action,
            hint="A campaign is approved, launched, paused and resumed.",
        )
    return ACTIONS[action]


def check_change(campaign_id: str, old: str, new: str) -> None:
    """Raise ConflictError unless :data:`TRANSITIONS` allows ``old -> new`` (staying put is not a change;
    callers that treat it as done check ``old == new`` first)."""
    if new in TRANSITIONS.get(old, {}):
        return
    allowed = ", ".join(allowed_changes(old)) or "nothing (final)"
    raise ConflictError(
        f"campaign {campaign_id!r} is {old}; it cannot become {new}", hint=f"From {old} it can become: {allowed}."
    )
