"""Reading CSV, Parquet and JSON Lines files into a DuckDB workbench table.

Every reader produces a table whose columns are the file's columns (CSV and JSON Lines as text, Parquet
with its own types) plus ``__line``: the line of the record in the file (CSV: the header is line 1;
JSON Lines: the physical line; Parquet: the 1-based row number). Records that cannot be read at all
(wrong column count, invalid UTF-8, malformed JSON) become :class:`Reject` entries instead of rows.

DuckDB does the CSV and Parquet parsing: it is the fastest reader available here and reports
malformed CSV records with their line numbers (``store_rejects``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa

from marketloop.errors import InputError, NotFoundError

Format = Literal["csv", "parquet", "jsonl"]

_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


@dataclass(frozen=True)
class Reject:
    line: int
    field: str
    value: str | None
    code: str
    reason: str


@dataclass
class RawTable:
    """A file read into the workbench: table name, its columns (without ``__line``) and rejects."""

    name: str
    columns: list[str]
    rows: int
    rejects: list[Reject]
    source_name: str = ""
    #: the Arrow data behind `name` when it is a registered view rather than a table
    arrow: pa.Table | None = None


def detect_format(path: Path, fmt: str | None = None) -> Format:
    if fmt:
        if fmt not in ("csv", "parquet", "jsonl"):
            raise InputError(
                f"--format {fmt!r} is not supported (expected csv, parquet or jsonl)",
                field="format",
                value=fmt,
                hint="Pass --format csv, --format parquet or --format jsonl.",
            )
        return fmt  # type: ignore[return-value]
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".zst", ".bz2")]
    for suffix in reversed(suffixes):
        if suffix in _SUFFIXES:
            return _SUFFIXES[suffix]
    if path.is_dir():
        return "parquet"
    raise InputError(
        f"Cannot tell the format of {path.name!r} from its name",
        field="format",
        value=path.name,
        hint="Name the file .csv, .parquet or .jsonl (optionally .gz), or pass --format.",
    )


def check_file(path: Path) -> None:
    if not path.exists():
        raise NotFoundError(f"File {str(path)!r} does not exist", hint="Check the path and try again.")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(
            f"File {path.name!r} is empty: expected a header line and at least one record",
            field="file",
            value=str(path),
            hint="Check that the export finished writing before loading it.",
        )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_csv(con, path: Path, table: str, *, delimiter: str | None = None, encoding: str = "utf-8") -> RawTable:  # noqa: ANN001
    """Read a CSV (optionally compressed) into `table`; malformed records become rejects."""
    options = [
        "all_varchar=true",
        "header=true",
        "store_rejects=true",
        "rejects_table='__csv_rejects'",
        "rejects_scan='__csv_scan'",
        "strict_mode=true",
    ]
    if delimiter:
        options.append(f"delim='{delimiter}'")
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        options.append(f"encoding='{encoding}'")
    source = f"read_csv('{_escape(str(path))}', {', '.join(options)})"
    con.execute("DROP TABLE IF EXISTS __csv_rejects")
    con.execute("DROP TABLE IF EXISTS __csv_scan")
    try:
        data = con.sql(f"SELECT * FROM {source}").to_arrow_table()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        if "empty" in first.lower() or "no columns" in first.lower():
            raise InputError(
                f"File {path.name!r} has no header or records",
                field="file",
                value=str(path),
                hint="Check that the file is a CSV with a header line.",
            ) from None
        raise InputError(
            f"Cannot read {path.name!r} as CSV: {first}",
            field="file",
            value=str(path),
            hint="Check the delimiter (--delimiter) and encoding (--encoding).",
        ) from None
    rej = con.execute(
        "SELECT line, column_name, error_type, csv_line, error_message FROM __csv_rejects ORDER BY line"
    ).fetchall()
    rejects = [_csv_reject(int(line), col, str(kind), text, msg) for line, col, kind, text, msg in rej]
    rejected_lines = np.unique(np.array([r.line for r in rejects], dtype=np.int64))
    # DuckDB returns good records in file order but without their line; recover it by counting the
    # rejected lines that come before each record (assumes one line per record).
    index = np.arange(data.num_rows, dtype=np.int64)
    shifted = rejected_lines - 2 - np.arange(len(rejected_lines), dtype=np.int64)
    lines = index + 2 + np.searchsorted(shifted, index, side="right")
    data = data.append_column("__line", pa.array(lines, pa.int64()))
    # Scanned in place (no copy): the RawTable keeps the Arrow data alive while the load runs.
    con.register(table, data)
    columns = [c for c in data.column_names if c != "__line"]
    return RawTable(table, columns, data.num_rows, rejects, arrow=data)


def _csv_reject(line: int, column: str | None, kind: str, text: str | None, message: str) -> Reject:
    if kind == "INVALID ENCODING":
        return Reject(
            line,
            "(row)",
            text,
            "encoding",
            "invalid UTF-8 bytes in the record: re-save the file as UTF-8 or pass --encoding latin-1",
        )
    if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message or "")
        detail = f"record has {found.group(2)} columns, expected {found.group(1)}" if found else message
        return Reject(line, "(row)", text, "columns", detail)
    if kind == "LINE SIZE OVER MAXIMUM":
        return Reject(line, "(row)", (text or "")[:200], "length", "record is longer than the maximum line size")
    return Reject(line, column or "(row)", text, "format", f"unreadable record: {message}")


def read_jsonl(con, path: Path, table: str) -> RawTable:  # noqa: ANN001
    """Read JSON Lines: one object per line; malformed lines become rejects, blank lines are skipped."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    records: list[dict[str, str | None]] = []
    lines: list[int] = []
    rejects: list[Reject] = []
    columns: dict[str, None] = {}
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                rejects.append(
                    Reject(
                        number,
                        "(row)",
                        raw[:200].decode("utf-8", "replace"),
                        "encoding",
                        "invalid UTF-8 bytes in the record: re-save the file as UTF-8",
                    )
                )
                continue
            if not text.strip():
                continue
            try:
                obj = json.loads(text.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                rejects.append(
                    Reject(
                        number, "(row)", text.strip()[:200], "json", f"malformed JSON: {exc.msg} at column {exc.colno}"
                    )
                )
                continue
            if not isinstance(obj, dict):
                rejects.append(
                    Reject(
                        number, "(row)", text.strip()[:200], "json", f"expected a JSON object, got {type(obj).__name__}"
                    )
                )
                continue
            record = {str(k): _json_text(v) for k, v in obj.items()}
            for key in record:
                columns.setdefault(key, None)
            records.append(record)
            lines.append(number)
    if not records and not rejects:
        raise InputError(
            f"File {path.name!r} has no records",
            field="file",
            value=str(path),
            hint="Expected one JSON object per line.",
        )
    names = list(columns)
    arrays = {name: pa.array([r.get(name) for r in records], pa.string()) for name in names}
    arrays["__line"] = pa.array(lines, pa.int64())
    data = pa.table(arrays) if names or records else pa.table({"__line": pa.array([], pa.int64())})
    con.register("__jsonl_arrow", data)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM __jsonl_arrow")
    con.unregister("__jsonl_arrow")
    return RawTable(table, names, len(records), rejects)


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def read_parquet(con, path: Path, table: str) -> RawTable:  # noqa: ANN001
    """Open one Parquet file with its own column types; ``__line`` is the 1-based row number.

    `table` is a view over the file, not a copy: validation streams it row group by row group, so a
    file larger than memory loads in bounded memory. The row count comes from the file's metadata."""
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * EXCLUDE (file_row_number), "
            f"file_row_number + 1 AS __line FROM read_parquet('{_escape(str(path))}', file_row_number=true)"
        )
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(
            f"Cannot read {path.name!r} as Parquet: {first}",
            field="file",
            value=str(path),
            hint="Check that the file is a complete Parquet file.",
        ) from None
    columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall() if row[0] != "__line"]
    return RawTable(table, columns, int(rows), [])


def read_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    *,
    fmt: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> RawTable:
    check_file(path)
    kind = detect_format(path, fmt)
    if kind == "csv":
        raw = read_csv(con, path, table, delimiter=delimiter, encoding=encoding)
    elif kind == "jsonl":
        raw = read_jsonl(con, path, table)
    else:
        raw = read_parquet(con, path, table)
    raw.source_name = path.name
    return raw


def _escape(text: str) -> str:
    return text.replace("'", "''")


def quote(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return _quote(name)
