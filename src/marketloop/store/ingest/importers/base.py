"""The importer protocol and the column-matching rules shared by all importers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from marketloop.config import Settings
from marketloop.errors import InputError
from marketloop.store.ingest.readers import RawTable, read_source


@dataclass
class Prepared:
    #: entity -> (workbench table, fields it provides)
    tables: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: workbench tables of rows rejected by the importer itself (line, field, value, code, reason)
    reject_tables: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


class Importer:
    """Base class: `read` the file into the workbench, then `prepare` canonical entity tables."""

    name = "generic"

    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = dict(mapping or {})

    def read(self, wb, path: Path, table: str, *, fmt: str | None, delimiter: str | None, encoding: str) -> RawTable:  # noqa: ANN001
        return read_source(wb, path, table, fmt=fmt, delimiter=delimiter, encoding=encoding)

    def prepare(self, wb, raw: RawTable, settings: Settings) -> Prepared:  # noqa: ANN001
        raise NotImplementedError


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def match_columns(
    file_columns: list[str],
    fields: list[str],
    required: list[str],
    mapping: dict[str, str],
    *,
    what: str,
    file_name: str,
) -> dict[str, str]:
    """Match file columns to fields: explicit `mapping` (column -> field) first, then names equal up to
    case, spaces and underscores. Returns field -> column; raises a header-mismatch InputError naming
    the missing fields and the file's columns."""
    chosen: dict[str, str] = {}
    for column, target in mapping.items():
        if column not in file_columns:
            raise InputError(
                f"--map {column}={target}: {file_name!r} has no column {column!r} (its columns: {', '.join(file_columns)})",
                field="map",
                value=f"{column}={target}",
                hint="Column names are case-sensitive in --map.",
            )
        if target not in fields:
            raise InputError(
                f"--map {column}={target}: {target!r} is not a field of {what} (fields: {', '.join(fields)})",
                field="map",
                value=f"{column}={target}",
                hint="Map each column to one of the listed fields.",
            )
        chosen[target] = column
    by_norm = {normalise(c): c for c in file_columns}
    for f in fields:
        if f not in chosen and normalise(f) in by_norm and by_norm[normalise(f)] not in chosen.values():
            chosen[f] = by_norm[normalise(f)]
    missing = [f for f in required if f not in chosen]
    if missing or not chosen:
        raise InputError(
            f"Header mismatch: {file_name!r} lacks the required column(s) {', '.join(missing or required)} for {what}; "
            f"its columns are: {', '.join(file_columns) or '(none)'}",
            field="header",
            value=", ".join(file_columns),
            hint=f"Rename the columns, or map them with --map COLUMN=FIELD (fields: {', '.join(fields)}).",
        )
    return chosen


def select_mapped(wb, raw: RawTable, chosen: dict[str, str], table: str) -> None:  # noqa: ANN001
    from marketloop.store.ingest.readers import quote

    cols = ", ".join(f"{quote(col)} AS {quote(fld)}" for fld, col in chosen.items())
    wb.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT {cols}, __line FROM {raw.name}")
