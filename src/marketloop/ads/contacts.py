"""Where ad audiences get customers' contact details: a small interface and the sources of today.

Ad platforms match customer lists on the SHA-256 of a *normalised* e-mail address or phone number, so
an export needs the address itself, normalised, for the customers it lists. :class:`ContactSource`
is that one question ("give me the normalised address of these customers"); everything else in
:mod:`marketloop.ads.audiences` is independent of where the answer comes from.

Sources available today:

- :class:`StoreContacts` reads ``customers.email_hash`` / ``phone_hash``. Ingestion replaces addresses
  by a keyed HMAC (``MARKETLOOP_PSEUDONYMISE_PII``, on by default), which no platform can match, so
  this source answers only for stores loaded with pseudonymisation off, where those columns hold the
  address; otherwise it raises a :class:`~marketloop.errors.DependencyError` saying so.
- :class:`FileContacts` reads the merchant's own export (``customer_id,email,phone`` CSV, e.g. from
  the shop system) for the customers asked about; the file is never stored.

A contact vault (encrypted addresses kept by the store) answers the same question by implementing
:meth:`ContactSource.normalised_contacts`.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path
from typing import Protocol

import pandas as pd
import sqlalchemy as sa

from marketloop.errors import DependencyError, InputError
from marketloop.store import schema
from marketloop.store.engine import Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def normalise_email(value: str | None) -> str | None:
    """Trimmed, all whitespace removed, lowercase (Google Customer Match and Meta's rules); None when it
    is not an address."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    email = re.sub(r"\s+", "", unicodedata.normalize("NFC", str(value))).lower()
    return email if _EMAIL.match(email) else None


def normalise_phone(value: str | None, default_country_code: str | None = None) -> str | None:
    """E.164 (``+`` country code and number, digits only), or None when it cannot be.

    A number written with ``+`` or ``00`` carries its country code; one without gets
    ``default_country_code`` (digits, e.g. ``44``) after its national leading zeros are dropped.
    """
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    raw = str(value).strip()
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return None
    if raw.startswith("+"):
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    elif default_country_code:
        number = re.sub(r"\D", "", default_country_code) + digits.lstrip("0")
    else:
        return None  # no country code: a platform could not match it
    number = number.lstrip("0")
    return f"+{number}" if 8 <= len(number) <= 15 else None


class ContactSource(Protocol):
    """Normalised contact details of customers (None where unknown)."""

    def normalised_contacts(self, customer_ids: list[str]) -> pd.DataFrame:
        """customer_id, email (normalised), phone (E.164): one row per known customer asked about."""
        ...


class StoreContacts:
    """The store's own contact columns: usable only where they hold addresses, not keyed hashes."""

    def __init__(self, store: Store, default_country_code: str | None = None) -> None:
        self.store = store
        self.default_country_code = default_country_code

    def normalised_contacts(self, customer_ids: list[str]) -> pd.DataFrame:
        c = schema.customers
        rows = []
        ids = [str(i) for i in customer_ids]
        for k in range(0, len(ids), 1000):
            part = self.store.read_sql(
                sa.select(c.c.customer_id, c.c.email_hash, c.c.phone_hash).where(c.c.customer_id.in_(ids[k : k + 1000]))
            )
            rows.append(part)
        frame = (
            pd.concat(rows, ignore_index=True)
            if rows
            else pd.DataFrame(columns=["customer_id", "email_hash", "phone_hash"])
        )
        stored = frame["email_hash"].dropna().astype(str)
        if len(stored) and stored.str.fullmatch(_HEX64.pattern).mean() > 0.5:
            raise DependencyError(
                "contacts: the store keeps e-mail addresses and phone numbers only as keyed hashes "
                "(pseudonymised at load), which ad platforms cannot match",
                hint="Pass the shop's own contact export with --contacts FILE (customer_id,email,phone), "
                "or load customers with MARKETLOOP_PSEUDONYMISE_PII=false.",
            )
        return pd.DataFrame(
            {
                "customer_id": frame["customer_id"].astype(str),
                "email": [normalise_email(v) for v in frame["email_hash"]],
                "phone": [normalise_phone(v, self.default_country_code) for v in frame["phone_hash"]],
            }
        )


class FileContacts:
    """A CSV with ``customer_id`` and ``email`` and / or ``phone`` columns (the shop's own export)."""

    def __init__(self, path: str | Path, default_country_code: str | None = None) -> None:
        self.path = Path(path)
        self.default_country_code = default_country_code
        if not self.path.is_file():
            raise InputError(
                f"contacts: file not found: {self.path}",
                field="contacts",
                value=str(self.path),
                hint="Export customer_id,email,phone from the shop system to a CSV file.",
            )

    def normalised_contacts(self, customer_ids: list[str]) -> pd.DataFrame:
        wanted = {str(i) for i in customer_ids}
        with self.path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = {h.strip().lower(): h for h in reader.fieldnames or []}
            if "customer_id" not in header or not ({"email", "phone"} & set(header)):
                raise InputError(
                    f"contacts: {self.path.name} needs a customer_id column and an email and / or phone column, "
                    f"got {', '.join(reader.fieldnames or []) or 'no header'}",
                    field="contacts",
                    value=reader.fieldnames,
                    hint="First line: customer_id,email,phone",
                )
            rows = [
                {
                    "customer_id": str(r[header["customer_id"]]).strip(),
                    "email": normalise_email(r.get(header.get("email", ""), None)),
                    "phone": normalise_phone(r.get(header.get("phone", ""), None), self.default_country_code),
                }
                for r in reader
                if str(r[header["customer_id"]]).strip() in wanted
            ]
        return pd.DataFrame(rows, columns=["customer_id", "email", "phone"]).drop_duplicates("customer_id")
