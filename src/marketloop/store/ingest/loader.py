"""Load one file (or a folder of Parquet parts) into the store, all or nothing.

A load is identified by the hash of its kind, its options and the file's bytes: loading the same file
twice finds the first load in ``ingest_runs`` and changes nothing. Inside one transaction the loader
reads the file into the DuckDB workbench, lets the importer reshape it into canonical entities,
validates each entity, writes the valid rows (new keys inserted, changed dimension rows updated),
and records every rejected row with its line, field, value and reason. If anything fails, or the
process is killed, the transaction is rolled back and the store is as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from marketloop.clock import wall_utcnow
from marketloop.config import Settings, get_settings
from marketloop.errors import InputError
from marketloop.store import bulk, schema
from marketloop.store.engine import Store
from marketloop.store.ingest.entities import ENTITIES, LOAD_ORDER
from marketloop.store.ingest.importers import Importer, get_importer
from marketloop.store.ingest.readers import Reject, check_file, quote
from marketloop.store.ingest.validate import validate
from marketloop.store.privacy import pseudonymise

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)


@dataclass
class TableCounts:
    loaded: int = 0
    skipped: int = 0  # key already in the store (unchanged)
    updated: int = 0  # key already in the store, values changed (dimension tables)
    rejected: int = 0


@dataclass
class IngestSummary:
    kind: str
    source: str
    ingest_id: str
    already_loaded: bool
    rows_read: int
    tables: dict[str, TableCounts] = field(default_factory=dict)
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def loaded(self) -> int:
        return sum(t.loaded for t in self.tables.values())

    @property
    def skipped(self) -> int:
        return sum(t.skipped for t in self.tables.values())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["loaded"] = self.loaded
        data["skipped"] = self.skipped
        return data


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _previous(store: Store, ingest_id: str) -> dict | None:
    runs = schema.ingest_runs
    row = store.read_sql(sa.select(runs.c.summary_json).where(runs.c.ingest_id == ingest_id))
    return json.loads(row.iloc[0, 0]) if len(row) else None


def load_file(
    store: Store,
    kind: str,
    path: str | Path,
    *,
    fmt: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    mapping: dict[str, str] | None = None,
    settings: Settings | None = None,
    options: dict | None = None,
) -> IngestSummary:
    """Load `path` as `kind` (an entity name such as ``orders`` or an importer such as ``uci-online-retail``)."""
    started = time.perf_counter()
    settings = settings or get_settings()
    path = Path(path)
    importer = get_importer(kind, mapping=mapping or {}, options=options or {})
    check_file(path)
    sha = file_digest(path)
    fingerprint = json.dumps({"kind": kind, "sha": sha, "map": mapping or {}, "opt": options or {}}, sort_keys=True)
    ingest_id = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    previous = _previous(store, ingest_id)
    if previous is not None:
        return IngestSummary(
            kind=kind,
            source=path.name,
            ingest_id=ingest_id,
            already_loaded=True,
            rows_read=int(previous.get("rows_read", 0)),
            seconds=time.perf_counter() - started,
        )
    summary = IngestSummary(kind=kind, source=path.name, ingest_id=ingest_id, already_loaded=False, rows_read=0)
    with store.begin() as conn:
        own_workbench = not bulk.workbench_is_store(store.dialect)
        wb = duckdb.connect() if own_workbench else conn.connection.driver_connection
        limit = None if own_workbench else wb.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        try:
            _run(
                conn,
                store.dialect,
                wb,
                importer,
                path,
                summary,
                settings,
                fmt=fmt,
                delimiter=delimiter,
                encoding=encoding,
                sha=sha,
            )
        finally:
            _cleanup(wb)
            if own_workbench:
                wb.close()
            elif settings.ingest_memory_limit:
                wb.execute(f"SET memory_limit = {_literal(limit)}")
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _run(
    conn: Connection,
    dialect: str,
    wb: duckdb.DuckDBPyConnection,
    importer: Importer,
    path: Path,
    summary: IngestSummary,
    settings: Settings,
    *,
    fmt: str | None,
    delimiter: str | None,
    encoding: str,
    sha: str,
) -> None:
    wb.execute("SET TimeZone = 'UTC'")
    if settings.ingest_memory_limit:
        wb.execute(f"SET memory_limit = {_literal(settings.ingest_memory_limit)}")
    raw = importer.read(wb, path, "__raw", fmt=fmt, delimiter=delimiter, encoding=encoding)
    summary.rows_read = raw.rows + len(raw.rejects)
    prepared = importer.prepare(wb, raw, settings)
    summary.ignored_columns = prepared.ignored_columns
    rejects: list[tuple[str, str]] = [(importer.name, t) for t in prepared.reject_tables]
    _register_rejects(wb, "__raw_structural", raw.rejects)
    rejects.append((importer.name, "__raw_structural"))
    key = settings.pii_key() if settings.pseudonymise_pii else None
    wb.create_function("ml_pseudonymise", _hasher(key), ["VARCHAR"], "VARCHAR", type="arrow")
    loaded_here: dict[str, str] = {}
    for entity in LOAD_ORDER:
        if entity not in prepared.tables:
            continue
        spec = ENTITIES[entity]
        table, columns = prepared.tables[entity]
        references = {}
        for ref in spec.references:
            if ref.field not in columns:
                continue
            existing = bulk.fetch_keys(
                conn,
                dialect,
                wb,
                schema.metadata.tables[ref.table],
                ref.column,
                f"SELECT {quote(ref.field)} AS key FROM {table}",
                f"__keys_{entity}_{ref.field}",
            )
            union = f"SELECT key FROM {existing}"
            if ref.table in loaded_here:
                union += f" UNION ALL SELECT {quote(ref.column)} FROM {loaded_here[ref.table]}"
            references[ref.field] = f"({union})"
        result = validate(wb, spec, table, columns, settings, references=references)
        rejects.append((entity, result.rejects_table))
        loaded_here[entity] = result.clean_table
        present = [f for f in spec.fields if f.name in columns]
        select = [_value_sql(f.name, f.type) + f" AS {quote(f.target)}" for f in present]
        targets = [f.target for f in present]
        update = list(targets)
        for col, value in spec.defaults.items():
            if col not in targets:
                select.append(f"{_literal(value)} AS {quote(col)}")
                targets.append(col)
        if "source" in spec.sa_table.c:
            select.append(f"'{summary.source.replace(chr(39), chr(39) * 2)}' AS source")
            targets.append("source")
            update.append("source")
        written = bulk.write_rows(
            conn,
            dialect,
            wb,
            f"SELECT {', '.join(select)} FROM {result.clean_table}",
            spec.sa_table,
            targets,
            spec.key,
            spec.mode,
            update_columns=update,
            rows=result.rows_valid,
        )
        counts = summary.tables.setdefault(entity, TableCounts())
        counts.loaded += written.inserted
        counts.updated += written.updated
        counts.skipped += written.existing - written.updated
        counts.rejected += result.rows_in - result.rows_valid
    _store_rejects(conn, dialect, wb, summary, rejects)
    conn.execute(
        schema.ingest_runs.insert().values(
            ingest_id=summary.ingest_id,
            kind=summary.kind,
            source=summary.source,
            sha256=sha,
            rows_read=summary.rows_read,
            rows_loaded=summary.loaded,
            rows_skipped=summary.skipped,
            rows_rejected=summary.rejected,
            summary_json=json.dumps(summary.to_dict(), default=str),
            finished_at=wall_utcnow(),
        )
    )


def _value_sql(name: str, ftype: str) -> str:
    if ftype in ("email", "phone"):
        return f"ml_pseudonymise({quote(name)})"
    return quote(name)


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _hasher(key: bytes | None):  # noqa: ANN202
    def apply(values: pa.Array) -> pa.Array:
        items = values.to_pylist()
        if key is None:
            return pa.array(items, pa.string())
        return pa.array([pseudonymise(v, key) for v in items], pa.string())

    return apply


def _register_rejects(wb, name: str, rejects: list[Reject]) -> None:  # noqa: ANN001
    data = pa.table(
        {
            "line": pa.array([r.line for r in rejects], pa.int64()),
            "field": pa.array([r.field for r in rejects], pa.string()),
            "value": pa.array([r.value for r in rejects], pa.string()),
            "code": pa.array([r.code for r in rejects], pa.string()),
            "reason": pa.array([r.reason for r in rejects], pa.string()),
        }
    )
    wb.register(f"{name}_arrow", data)
    wb.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    wb.unregister(f"{name}_arrow")


def _store_rejects(conn, dialect: str, wb, summary: IngestSummary, rejects: list[tuple[str, str]]) -> None:  # noqa: ANN001
    """Write every rejected record (one row per line and field) through the same bulk path as data."""
    union = " UNION ALL ".join(
        f"SELECT '{entity}' AS entity, line, field, value, code, reason FROM {table}" for entity, table in rejects
    )
    source = summary.source.replace("'", "''")
    wb.execute(
        "CREATE OR REPLACE TEMP TABLE __all_rejects AS "
        f"SELECT '{summary.ingest_id}' AS ingest_id, entity, line, left(field, 128) AS field, code, '{source}' AS source, "
        f"left(value, 1000) AS value, reason, TIMESTAMP '{wall_utcnow():%Y-%m-%d %H:%M:%S}' AS created_at "
        f"FROM ({union}) QUALIFY row_number() OVER (PARTITION BY entity, line, field ORDER BY reason) = 1"
    )
    summary.rejected = int(wb.execute("SELECT count(DISTINCT line) FROM __all_rejects").fetchone()[0])
    by_code = wb.execute("SELECT code, count(*) AS n FROM __all_rejects GROUP BY code ORDER BY n DESC, code").fetchall()
    summary.rejected_by_reason = {code: int(n) for code, n in by_code}
    if summary.rejected:
        columns = [c.name for c in schema.rejected_rows.columns]
        bulk.write_rows(
            conn,
            dialect,
            wb,
            f"SELECT {', '.join(columns)} FROM __all_rejects",
            schema.rejected_rows,
            columns,
            ("ingest_id", "entity", "line", "field"),
            "insert",
        )


def _cleanup(wb) -> None:  # noqa: ANN001
    """Drop the workbench's temporary objects (they live in the store's connection on DuckDB)."""
    try:
        wb.unregister("__raw")
    except Exception:  # noqa: BLE001 - it is a table, not a registered view, for some readers
        pass
    try:
        for name, kind in wb.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = 'temp'"
        ).fetchall():
            wb.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS temp.{quote(name)}")
        wb.remove_function("ml_pseudonymise")
    except Exception:  # cleanup after a failed load must not hide the original error
        log.debug("workbench cleanup failed", exc_info=True)


def load_path(store: Store, kind: str, path: str | Path, **kwargs: Any) -> list[IngestSummary]:
    """Load a file, or every Parquet / CSV / JSON Lines part of a folder (one transaction per part)."""
    path = Path(path)
    if path.is_dir():
        parts = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
        if not parts:
            raise InputError(
                f"Folder {str(path)!r} has no data files",
                field="file",
                value=str(path),
                hint="Point at a file, or a folder of .parquet/.csv/.jsonl parts.",
            )
        return [load_file(store, kind, part, **kwargs) for part in parts]
    return [load_file(store, kind, path, **kwargs)]


def load_dataset(
    store: Store,
    root: str | Path,
    files: dict[str, str] | None = None,
    *,
    settings: Settings | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, list[IngestSummary]]:
    """Load a folder holding one file or folder of parts per entity (e.g. ``products.parquet``,
    ``events/part-00000.parquet``), in dependency order. `files` maps entity -> path relative to
    `root`; by default every entity name found in `root` is loaded. `progress(entity, done, total)`
    is called after each entity."""
    root = Path(root)
    if files is None:
        files = {}
        for entity in LOAD_ORDER:
            for candidate in (entity, f"{entity}.parquet", f"{entity}.csv", f"{entity}.jsonl"):
                if (root / candidate).exists():
                    files[entity] = candidate
                    break
    unknown = sorted(set(files) - set(ENTITIES))
    if unknown:
        raise InputError(
            f"Unknown entities {unknown} in the dataset layout",
            field="files",
            value=unknown,
            hint=f"Entities are: {', '.join(ENTITIES)}.",
        )
    if not files:
        raise InputError(
            f"{str(root)!r} holds no entity files (products.parquet, orders/, ...)",
            field="root",
            value=str(root),
            hint="Generate one with `marketloop sim generate --out DIR`.",
        )
    results: dict[str, list[IngestSummary]] = {}
    order = [e for e in LOAD_ORDER if e in files]
    for done, entity in enumerate(order, start=1):
        results[entity] = load_path(store, entity, root / files[entity], settings=settings)
        if progress:
            progress(entity, done, len(order))
    return results
