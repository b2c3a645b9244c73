"""Importers turn one source file into rows of the canonical entities.

The generic importer maps a file's columns onto one entity (``marketloop ingest orders FILE``);
dataset importers (UCI Online Retail, CDNOW, Taobao, reviews, generic interactions) model a known
layout and its peculiarities. Every importer reads into the workbench, then returns, per entity, a
workbench table with columns named after the entity's fields plus ``__line``.
"""

from __future__ import annotations

from marketloop.errors import InputError
from marketloop.store.ingest.importers.base import Importer, Prepared
from marketloop.store.ingest.importers.datasets import (
    CdnowImporter,
    InteractionsImporter,
    ReviewsImporter,
    TaobaoImporter,
    UciImporter,
)
from marketloop.store.ingest.importers.generic import EntityImporter

DATASET_IMPORTERS: dict[str, type[Importer]] = {
    "uci-online-retail": UciImporter,
    "cdnow": CdnowImporter,
    "taobao": TaobaoImporter,
    "reviews": ReviewsImporter,
    "interactions": InteractionsImporter,
}


def get_importer(kind: str, *, mapping: dict[str, str], options: dict) -> Importer:
    from marketloop.store.ingest.entities import ENTITIES

    if kind in ENTITIES:
        return EntityImporter(kind, mapping)
    if kind in DATASET_IMPORTERS:
        return DATASET_IMPORTERS[kind](mapping=mapping, **options)
    known = ", ".join(list(ENTITIES) + list(DATASET_IMPORTERS))
    raise InputError(f"Unknown kind of data {kind!r}", field="kind", value=kind, hint=f"Use one of: {known}.")


__all__ = ["Importer", "Prepared", "get_importer", "DATASET_IMPORTERS"]
