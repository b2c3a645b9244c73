"""Audiences for paid ads: who to list, and the files ad platforms accept for customer-list matching.

**Who.** An :class:`AudienceSpec` selects customers from the profiles (``customer_profiles``):

- ``kind="segment"``: the customers of named RFM segments and / or lifecycle stages;
- ``kind="lookalike_seed"``: the customers with the highest predicted value (CLV), the top
  ``top_share`` (a lookalike audience grows from its seed: the best customers make the best seed);
- ``kind="suppression"``: recent buyers (ordered within ``recent_days``), to exclude from prospecting
  and acquisition campaigns so that budget is not spent on people who just bought.

Every list is consent-filtered: only customers whose consent on ``consent_channel`` (default ``ads``)
is granted and who are not on the suppression list of that channel are listed -- a suppression
audience included, since uploading a person's hashed address is itself processing that needs their
consent. Erased customers are gone from the store (``privacy forget``), and a contact file row of a
customer the store no longer knows is dropped.

**Files.** Each address is normalised (:mod:`marketloop.ads.contacts`) and hashed with SHA-256
(lowercase hex), then written in the platform's published layout:

- ``google``: Google Ads Customer Match CSV, UTF-8, headers ``Email`` and ``Phone`` (the English
  header names the format requires); e-mail lowercased without whitespace, phone in E.164 before
  hashing;
- ``meta``: Meta (Facebook) customer-list CSV with the identifier columns ``email`` and ``phone``;
  e-mail trimmed and lowercased, phone as digits with the country code, no ``+`` and no leading
  zeros, before hashing.

A row without a usable address on either identifier is left out and counted.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from marketloop.ads.contacts import ContactSource
from marketloop.clock import utcnow
from marketloop.errors import InputError
from marketloop.store import schema
from marketloop.store.engine import Store

PLATFORMS = ("google", "meta")
#: The columns each platform's customer-list file has, in order.
HEADERS = {"google": ("Email", "Phone"), "meta": ("email", "phone")}


class AudienceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=128)
    kind: Literal["segment", "lookalike_seed", "suppression"] = "segment"
    segments: list[str] = Field(default_factory=list, description="RFM segments (kind segment)")
    lifecycle_stages: list[str] = Field(default_factory=list, description="new, active, at_risk, churned")
    top_share: float = Field(0.1, gt=0, le=1, description="share of customers by CLV (lookalike seed)")
    recent_days: int = Field(30, ge=1, le=730, description="ordered within this many days (suppression)")
    consent_channel: str = Field("ads", min_length=1, max_length=32)


@dataclass
class AudienceFile:
    platform: str
    path: Path | None
    rows: int
    selected: int
    unconsented: int
    no_contact: int
    columns: tuple[str, ...]
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "platform": self.platform,
            "path": str(self.path) if self.path else None,
            "rows": self.rows,
            "selected": self.selected,
            "left_out_unconsented": self.unconsented,
            "left_out_no_contact": self.no_contact,
            "columns": list(self.columns),
        }


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def platform_phone(e164: str, platform: str) -> str:
    """The phone number as the platform wants it before hashing (Google: E.164; Meta: no ``+``)."""
    return e164 if platform == "google" else e164.lstrip("+")


def select_customers(store: Store, spec: AudienceSpec, as_of: dt.datetime | None = None) -> list[str]:
    """The customer ids the spec selects, before consent."""
    pr = schema.customer_profiles
    if spec.kind == "suppression":
        o = schema.orders
        since = (as_of or utcnow()) - dt.timedelta(days=spec.recent_days)
        rows = store.read_sql(
            sa.select(o.c.customer_id)
            .where(o.c.customer_id.is_not(None), o.c.is_return.is_(False), o.c.ordered_at >= since)
            .distinct()
        )
        return sorted(rows["customer_id"].astype(str))
    profiles = store.read_sql(sa.select(pr.c.customer_id, pr.c.segment, pr.c.lifecycle_stage, pr.c.clv))
    if profiles.empty:
        raise InputError(
            "profiles: the store has no customer profiles to build an audience from",
            field="profiles",
            hint="Compute them first: marketloop analyze",
        )
    profiles["customer_id"] = profiles["customer_id"].astype(str)
    if spec.kind == "lookalike_seed":
        ranked = profiles.dropna(subset=["clv"]).sort_values(["clv", "customer_id"], ascending=[False, True])
        n = max(1, int(round(spec.top_share * len(ranked))))
        return ranked["customer_id"].head(n).tolist()
    if not spec.segments and not spec.lifecycle_stages:
        raise InputError(
            f"audience {spec.name!r}: a segment audience needs segments and / or lifecycle_stages",
            field="segments",
            hint="e.g. --segment champions --segment loyal, or --stage at_risk",
        )
    keep = profiles["segment"].isin(spec.segments) | profiles["lifecycle_stage"].isin(spec.lifecycle_stages)
    return sorted(profiles.loc[keep, "customer_id"])


def consented(store: Store, customer_ids: list[str], channel: str) -> set[str]:
    """The customers with consent granted on ``channel`` and not suppressed on it."""
    k, s = schema.consents, schema.suppressions
    granted = store.read_sql(sa.select(k.c.customer_id).where(k.c.channel == channel, k.c.status == "granted"))
    blocked = store.read_sql(sa.select(s.c.customer_id).where(s.c.channel.in_([channel, "*"])))
    known = store.read_sql(sa.select(schema.customers.c.customer_id))
    ok = set(granted["customer_id"].astype(str)) - set(blocked["customer_id"].astype(str))
    return ok & set(known["customer_id"].astype(str)) & {str(c) for c in customer_ids}


def build_rows(
    store: Store, spec: AudienceSpec, contacts: ContactSource, as_of: dt.datetime | None = None
) -> tuple[pd.DataFrame, dict]:
    """customer_id, email, phone (normalised, for consented customers with an address) and the counts."""
    selected = select_customers(store, spec, as_of)
    allowed = consented(store, selected, spec.consent_channel)
    listed = [c for c in selected if c in allowed]
    found = contacts.normalised_contacts(listed) if listed else pd.DataFrame(columns=["customer_id", "email", "phone"])
    found = found[found["customer_id"].astype(str).isin(allowed)]
    usable = found[found["email"].notna() | found["phone"].notna()]
    counts = {
        "selected": len(selected),
        "unconsented": len(selected) - len(listed),
        "no_contact": len(listed) - len(usable),
    }
    return usable.reset_index(drop=True), counts


def write_file(rows: pd.DataFrame, platform: str, path: str | Path) -> int:
    """Write the hashed customer-list file; returns the rows written."""
    if platform not in PLATFORMS:
        raise InputError(
            f"platform: expected one of {', '.join(PLATFORMS)}, got {platform!r}",
            field="platform",
            value=platform,
            hint="google (Customer Match) or meta (custom audience customer list)",
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADERS[platform])
        for email, phone in zip(rows["email"], rows["phone"], strict=True):
            writer.writerow(
                [
                    sha256_hex(email) if isinstance(email, str) else "",
                    sha256_hex(platform_phone(phone, platform)) if isinstance(phone, str) else "",
                ]
            )
            n += 1
    tmp.replace(path)  # a half-written file never carries the final name
    return n


def export_audience(
    store: Store,
    spec: AudienceSpec,
    contacts: ContactSource,
    platform: str,
    path: str | Path,
    as_of: dt.datetime | None = None,
) -> AudienceFile:
    rows, counts = build_rows(store, spec, contacts, as_of)
    written = write_file(rows, platform, path)
    return AudienceFile(
        platform,
        Path(path),
        written,
        counts["selected"],
        counts["unconsented"],
        counts["no_contact"],
        HEADERS[platform],
    )
