"""`marketloop ingest ENTITY FILE`: a file whose columns map onto one canonical entity."""

from __future__ import annotations

from marketloop.config import Settings
from marketloop.store.ingest.entities import ENTITIES
from marketloop.store.ingest.importers.base import Importer, Prepared, match_columns, select_mapped
from marketloop.store.ingest.readers import RawTable


class EntityImporter(Importer):
    def __init__(self, entity: str, mapping: dict[str, str] | None = None) -> None:
        super().__init__(mapping)
        self.entity = entity
        self.name = entity

    def prepare(self, wb, raw: RawTable, settings: Settings) -> Prepared:  # noqa: ANN001
        spec = ENTITIES[self.entity]
        fields = [f.name for f in spec.fields]
        chosen = match_columns(
            raw.columns, fields, spec.required, self.mapping, what=self.entity, file_name=raw.source_name
        )
        table = f"__in_{self.entity}"
        select_mapped(wb, raw, chosen, table)
        ignored = [c for c in raw.columns if c not in chosen.values()]
        return Prepared(tables={self.entity: (table, list(chosen))}, ignored_columns=ignored)
