"""Send-time checks: consent per channel, suppression lists, frequency caps and quiet hours.

They run on every batch the dispatcher is about to deliver, against the store as it is *now* (not as
it was at planning time): a consent revoked after launch stops the message.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from marketloop.store import schema


class SendPolicy(BaseModel):
    """Rules checked at send time, and the dispatcher's retry schedule."""

    model_config = ConfigDict(extra="forbid")
    global_cap: int = Field(3, ge=1, description="messages per customer across all campaigns within global_cap_days")
    global_cap_days: int = Field(7, ge=1)
    campaign_cap: int = Field(1, ge=1, description="messages per customer per campaign")
    quiet_start: int = Field(21, ge=0, le=23, description="local hour when quiet hours begin")
    quiet_end: int = Field(8, ge=0, le=23, description="local hour when quiet hours end")
    default_time_zone: str = "UTC"
    max_attempts: int = Field(5, ge=1, description="failed attempts before a send is dead-lettered")
    backoff_s: float = Field(60.0, gt=0, description="first retry delay; doubles each attempt")
    backoff_max_s: float = Field(6 * 3600.0, gt=0)

    def backoff(self, attempts: int) -> dt.timedelta:
        return dt.timedelta(seconds=min(self.backoff_max_s, self.backoff_s * 2 ** max(attempts - 1, 0)))


@lru_cache(maxsize=512)
def _zone(name: str | None, default: str) -> ZoneInfo:
    for candidate in (name, default, "UTC"):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def quiet_until(now: dt.datetime, time_zone: str | None, policy: SendPolicy) -> dt.datetime | None:
    """End of the quiet hours (naive UTC) if ``now`` falls inside them in the customer's zone, else None."""
    if policy.quiet_start == policy.quiet_end:
        return None
    zone = _zone(time_zone, policy.default_time_zone)
    local = now.replace(tzinfo=dt.UTC).astimezone(zone)
    h = local.hour
    overnight = policy.quiet_start > policy.quiet_end
    quiet = (
        (h >= policy.quiet_start or h < policy.quiet_end) if overnight else (policy.quiet_start <= h < policy.quiet_end)
    )
    if not quiet:
        return None
    end = local.replace(hour=policy.quiet_end, minute=0, second=0, microsecond=0)
    if end <= local:
        end += dt.timedelta(days=1)
    return end.astimezone(dt.UTC).replace(tzinfo=None)


def check_batch(store, batch: pd.DataFrame, now: dt.datetime, policy: SendPolicy) -> pd.DataFrame:  # noqa: ANN001
    """Decide for each send in ``batch`` (send_id, campaign_id, customer_id, channel, time_zone):
    adds ``decision`` (send / skip / defer), ``reason`` and ``defer_until``."""
    out = batch.copy()
    out["decision"] = "send"
    out["reason"] = None
    out["defer_until"] = pd.NaT
    if out.empty:
        return out
    ids = sorted(set(out["customer_id"]))
    k, sp, s = schema.consents.c, schema.suppressions.c, schema.sends.c
    consent = store.read_sql(sa.select(k.customer_id, k.channel, k.status).where(k.customer_id.in_(ids)))
    granted = set(
        zip(
            consent.loc[consent["status"] == "granted", "customer_id"],
            consent.loc[consent["status"] == "granted", "channel"],
            strict=True,
        )
    )
    supp = store.read_sql(sa.select(sp.customer_id, sp.channel).where(sp.customer_id.in_(ids)))
    suppressed = set(zip(supp["customer_id"], supp["channel"], strict=True))
    since = now - dt.timedelta(days=policy.global_cap_days)
    recent = store.read_sql(
        sa.select(s.customer_id, s.campaign_id, s.sent_at).where(s.customer_id.in_(ids), s.status == "sent")
    )
    recent_global = recent[recent["sent_at"] >= since].groupby("customer_id").size().to_dict()
    per_campaign = recent.groupby(["customer_id", "campaign_id"]).size().to_dict()
    planned: dict[str, int] = {}
    for i, row in zip(out.index, out.itertuples(index=False), strict=True):
        reason = None
        if (row.customer_id, row.channel) not in granted:
            reason = f"no {row.channel} consent"
        elif (row.customer_id, row.channel) in suppressed or (row.customer_id, "*") in suppressed:
            reason = "suppressed"
        elif per_campaign.get((row.customer_id, row.campaign_id), 0) >= policy.campaign_cap:
            reason = f"campaign cap ({policy.campaign_cap})"
        elif recent_global.get(row.customer_id, 0) + planned.get(row.customer_id, 0) >= policy.global_cap:
            reason = f"frequency cap ({policy.global_cap} per {policy.global_cap_days} days)"
        if reason:
            out.at[i, "decision"], out.at[i, "reason"] = "skip", reason
            continue
        until = quiet_until(now, row.time_zone, policy)
        if until is not None:
            out.at[i, "decision"], out.at[i, "reason"], out.at[i, "defer_until"] = "defer", "quiet hours", until
            continue
        planned[row.customer_id] = planned.get(row.customer_id, 0) + 1
    return out
