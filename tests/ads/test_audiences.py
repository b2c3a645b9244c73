"""Ad audiences: the files match the platforms' published column specs (Google Ads Customer Match:
headers Email / Phone, SHA-256 of the lowercased address and of the E.164 number; Meta customer list:
email / phone, the number without '+'), and never list an unconsented or erased customer."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re

import pandas as pd
import pytest

from marketloop.ads.audiences import AudienceSpec, export_audience
from marketloop.ads.contacts import FileContacts, StoreContacts, normalise_email, normalise_phone
from marketloop.errors import DependencyError, InputError
from marketloop.store import schema
from marketloop.store.bulk import insert_frame
from marketloop.store.engine import open_store
from marketloop.store.privacy import forget

NOW = dt.datetime(2026, 3, 1, 12)
HEX = re.compile(r"^[0-9a-f]{64}$")
CONTACTS = {
    "C1": (" Ada.Lovelace@Example.COM ", "+44 20 7183 8750"),
    "C2": ("grace@example.org", "0044 161 496 0000"),
    "C3": ("alan@example.net", "+1 (415) 555-2671"),
    "C4": ("katherine@example.com", ""),  # no consent
    "C5": ("edsger@example.com", "+31 20 555 1234"),  # erased
    "C6": ("barbara@example.com", "+33 1 23 45 67 89"),  # consent revoked
    "C7": ("not-an-address", "12"),  # consented, nothing usable
    "C8": ("linus@example.fi", "+358 9 1234567"),  # suppressed on ads
}


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def shop(tmp_path):
    store = open_store(f"duckdb:///{tmp_path / 'ads.duckdb'}")
    ids = list(CONTACTS)
    clv = {c: 100.0 * (k + 1) for k, c in enumerate(ids)}
    with store.begin() as conn:
        insert_frame(
            conn,
            schema.customers,
            pd.DataFrame({"customer_id": ids, "email_hash": [sha(c) for c in ids], "is_guest": False}),
        )
        insert_frame(
            conn,
            schema.customer_profiles,
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "as_of": NOW.date(),
                    "orders": 2,
                    "returns": 0,
                    "revenue": 50.0,
                    "high_value": False,
                    "computed_at": NOW,
                    "segment": [
                        "champions",
                        "champions",
                        "loyal",
                        "champions",
                        "champions",
                        "champions",
                        "champions",
                        "champions",
                    ],
                    "clv": [clv[c] for c in ids],
                }
            ),
        )
        status = {"C4": None, "C6": "revoked"}
        rows = [
            {"customer_id": c, "channel": "ads", "status": status.get(c, "granted"), "updated_at": NOW}
            for c in ids
            if status.get(c, "granted") is not None
        ]
        rows.append({"customer_id": "C4", "channel": "email", "status": "granted", "updated_at": NOW})
        insert_frame(conn, schema.consents, pd.DataFrame(rows))
        insert_frame(
            conn,
            schema.suppressions,
            pd.DataFrame([{"customer_id": "C8", "channel": "ads", "reason": "complaint", "created_at": NOW}]),
        )
        insert_frame(
            conn,
            schema.orders,
            pd.DataFrame(
                [
                    {
                        "order_id": "O1",
                        "customer_id": "C1",
                        "ordered_at": NOW - dt.timedelta(days=3),
                        "status": "completed",
                        "is_return": False,
                        "total": 10.0,
                    },
                    {
                        "order_id": "O2",
                        "customer_id": "C3",
                        "ordered_at": NOW - dt.timedelta(days=90),
                        "status": "completed",
                        "is_return": False,
                        "total": 10.0,
                    },
                    {
                        "order_id": "O3",
                        "customer_id": "C6",
                        "ordered_at": NOW - dt.timedelta(days=2),
                        "status": "completed",
                        "is_return": False,
                        "total": 10.0,
                    },
                ]
            ),
        )
    forget(store, "C5", key=b"k" * 32)
    path = tmp_path / "contacts.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "email", "phone"])
        for c, (email, phone) in CONTACTS.items():
            w.writerow([c, email, phone])
    yield store, path
    store.close()


def read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize(
    ("raw", "email"),
    [(" Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"), ("a b@x.io", "ab@x.io"), ("nope", None), (None, None)],
)
def test_email_normalisation(raw, email) -> None:
    assert normalise_email(raw) == email


@pytest.mark.parametrize(
    ("raw", "default", "e164"),
    [
        ("+44 20 7183 8750", None, "+442071838750"),
        ("0044 161 496 0000", None, "+441614960000"),
        ("+1 (415) 555-2671", None, "+14155552671"),
        ("020 7183 8750", "44", "+442071838750"),
        ("020 7183 8750", None, None),  # no country code: unmatchable
        ("12", "44", None),
    ],
)
def test_phone_normalisation(raw, default, e164) -> None:
    assert normalise_phone(raw, default) == e164


def test_google_customer_match_file(shop, tmp_path) -> None:
    store, contacts = shop
    out = tmp_path / "google.csv"
    result = export_audience(
        store, AudienceSpec(name="champions", segments=["champions"]), FileContacts(contacts), "google", out
    )
    rows = read(out)
    assert rows[0] == ["Email", "Phone"]  # the English header names Customer Match requires
    body = rows[1:]
    assert all(HEX.match(v) for r in body for v in r if v)
    # C1 and C2 (champions with consent and an address); C3 is loyal; C4 no consent; C5 erased;
    # C6 revoked; C7 nothing usable; C8 suppressed
    assert sorted(body) == sorted(
        [[sha("ada.lovelace@example.com"), sha("+442071838750")], [sha("grace@example.org"), sha("+441614960000")]]
    )
    assert (
        result.rows == 2 and result.selected == 6 and result.unconsented == 3 and result.no_contact == 1
    )  # C5 is gone
    text = out.read_text()
    for never in ("C4", "C5", "C6", "C8"):
        email, phone = CONTACTS[never]
        assert sha(normalise_email(email)) not in text
    assert "@" not in text and "+" not in text  # no address leaves unhashed


def test_meta_file_phone_without_plus(shop, tmp_path) -> None:
    store, contacts = shop
    out = tmp_path / "meta.csv"
    export_audience(
        store, AudienceSpec(name="seed", kind="lookalike_seed", top_share=1.0), FileContacts(contacts), "meta", out
    )
    rows = read(out)
    assert rows[0] == ["email", "phone"]
    phones = {r[1] for r in rows[1:]}
    assert sha("442071838750") in phones and sha("14155552671") in phones  # digits with country code, no '+'
    assert sha("+442071838750") not in phones


def test_lookalike_seed_takes_the_highest_value(shop, tmp_path) -> None:
    store, contacts = shop
    out = tmp_path / "seed.csv"
    result = export_audience(
        store, AudienceSpec(name="seed", kind="lookalike_seed", top_share=0.5), FileContacts(contacts), "google", out
    )
    # top half of the 7 profiles by CLV: C8 (suppressed), C7 (no address), C6 (revoked), C4 (no consent)
    assert result.selected == 4 and result.rows == 0


def test_suppression_list_of_recent_buyers(shop, tmp_path) -> None:
    store, contacts = shop
    out = tmp_path / "suppress.csv"
    result = export_audience(
        store,
        AudienceSpec(name="recent", kind="suppression", recent_days=30),
        FileContacts(contacts),
        "google",
        out,
        as_of=NOW,
    )
    # C1 and C6 ordered within 30 days; C6 revoked consent
    assert result.selected == 2 and result.rows == 1
    assert read(out)[1][0] == sha("ada.lovelace@example.com")


def test_store_with_keyed_hashes_cannot_be_exported(shop, tmp_path) -> None:
    store, _ = shop
    with pytest.raises(DependencyError, match="keyed hashes"):
        export_audience(
            store, AudienceSpec(name="x", segments=["champions"]), StoreContacts(store), "google", tmp_path / "x.csv"
        )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s, c, p: export_audience(
                s, AudienceSpec(name="x", segments=["champions"]), FileContacts(c), "tiktok", p
            ),
            "platform: expected one of google, meta",
        ),
        (lambda s, c, p: export_audience(s, AudienceSpec(name="x"), FileContacts(c), "google", p), "needs segments"),
        (lambda s, c, p: FileContacts(p.parent / "missing.csv"), "contacts: file not found"),
    ],
)
def test_bad_inputs(shop, tmp_path, call, message) -> None:
    store, contacts = shop
    with pytest.raises(InputError, match=message):
        call(store, contacts, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
