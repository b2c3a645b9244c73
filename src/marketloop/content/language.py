"""Which language to write to each customer in: declared, else detected from what they wrote, else their
country, else the store's default.

Copy and the assistant speak English and Chinese (``SUPPORTED``). For a customer:

1. the ``language`` column of ``customers`` when it names a supported language (``zh``, ``zh-CN``,
   ``zh_Hant``, ``Chinese``, ``en-GB``, ...);
2. else the language of the text they wrote to the store (review titles and bodies, search queries),
   identified by py3langid (a maintained fork of langid.py, restricted to the supported languages);
3. else their country (China, Taiwan, Hong Kong, Macau: Chinese);
4. else the ``default_language`` setting.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from marketloop.store import schema

SUPPORTED = ("en", "zh")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
ZH_COUNTRIES = {
    "china",
    "cn",
    "taiwan",
    "tw",
    "hong kong",
    "hk",
    "macau",
    "macao",
    "mo",
    "中国",
    "台湾",
    "香港",
    "澳门",
}
_NAMES = {"chinese": "zh", "中文": "zh", "汉语": "zh", "english": "en"}


def normalise_language(value: Any) -> str | None:
    """A supported language code for a declared value, or None (unknown or unsupported)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    if text in _NAMES:
        return _NAMES[text]
    code = re.split(r"[-_]", text, maxsplit=1)[0]
    return code if code in SUPPORTED else None


@lru_cache(maxsize=1)
def _identifier():  # noqa: ANN202 - a py3langid LanguageIdentifier, loaded lazily (a few MB)
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    ident.set_languages(list(SUPPORTED))
    return ident


def detect_language(text: str) -> str | None:
    """The supported language of ``text`` (None for empty text). Any Chinese characters make it Chinese:
    Chinese shoppers mix in Latin brand names and sizes, never the reverse."""
    text = (text or "").strip()
    if not text:
        return None
    if _CJK.search(text):
        return "zh"
    if not re.search(r"[A-Za-z]{2,}", text):
        return None
    return str(_identifier().classify(text)[0])


def customer_languages(store: Any, customer_ids: list[str], *, default: str = "en") -> dict[str, str]:
    """The language for each customer (see the module docstring); unknown ids get the default."""
    c, r, e = schema.customers, schema.reviews, schema.events
    ids = [str(x) for x in customer_ids]
    out: dict[str, str] = {}
    declared = store.read_sql(sa.select(c.c.customer_id, c.c.language, c.c.country).where(c.c.customer_id.in_(ids)))
    country: dict[str, str] = {}
    for row in declared.itertuples():
        lang = normalise_language(row.language)
        if lang:
            out[str(row.customer_id)] = lang
        elif isinstance(row.country, str) and row.country.strip().lower() in ZH_COUNTRIES:
            country[str(row.customer_id)] = "zh"
    rest = [i for i in ids if i not in out]
    if rest:
        texts: dict[str, list[str]] = {}
        reviews = store.read_sql(sa.select(r.c.customer_id, r.c.title, r.c.body).where(r.c.customer_id.in_(rest)))
        for row in reviews.itertuples():
            texts.setdefault(str(row.customer_id), []).extend(
                str(x) for x in (row.title, row.body) if isinstance(x, str)
            )
        searches = store.read_sql(
            sa.select(e.c.customer_id, e.c.query).where(
                e.c.customer_id.in_(rest), e.c.event_type == "search", e.c.query.is_not(None)
            )
        )
        for row in searches.itertuples():
            texts.setdefault(str(row.customer_id), []).append(str(row.query))
        for cid, parts in texts.items():
            lang = detect_language(" ".join(parts)[:2000])
            if lang:
                out[cid] = lang
    for cid in ids:
        out.setdefault(cid, country.get(cid, default))
    return out


def customer_language(store: Any, customer_id: str, *, default: str = "en") -> str:
    return customer_languages(store, [customer_id], default=default)[str(customer_id)]
