"""Set-based validation of one entity's rows in the DuckDB workbench.

For a raw relation (text or typed columns named after the entity's fields, plus ``__line``) this builds,
in one pass over the input:
- ``<name>_checked``: every row with each field converted to its store type and, per field, the
  reason it is invalid (NULL when valid);
- rejects: one row per (line, field) problem, with a code and a message that names the field, the
  value, and what was expected;
- ``<name>_clean``: a view of the valid rows, typed, first occurrence of each natural key only.

All checks are SQL expressions generated from the entity's :class:`FieldSpec` list, so a million rows
are validated in well under a second.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from marketloop.clock import utcnow
from marketloop.config import Settings
from marketloop.store.ingest.entities import EntitySpec, FieldSpec
from marketloop.store.ingest.readers import quote

if TYPE_CHECKING:
    import duckdb

_TRUE = "('true','t','1','yes','y')"
_FALSE = "('false','f','0','no','n')"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _num(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class FieldSQL:
    value: str  # typed value expression
    error: str  # CASE expression giving "code|message" or NULL


#: Workbench column types that already are the store type of a field: no parsing needed.
NATIVE_TYPES = {
    "int": ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT"),
    "float": ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT"),
    "timestamp": ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"),
    "date": ("DATE",),
    "bool": ("BOOLEAN",),
}


def field_sql(spec: FieldSpec, settings: Settings, now: dt.datetime, column_type: str = "VARCHAR") -> FieldSQL:
    """The typed value and the error expression of one field, in DuckDB SQL.

    When the workbench column already has the field's type (Parquet input, rows derived by an
    importer), the value is used as it is and only the range checks run.
    """
    col = quote(spec.name)
    text = f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '')"
    shown = f"CAST({col} AS VARCHAR)"
    checks: list[tuple[str, str]] = []  # (condition on value v, "code|message" SQL expression)
    native = column_type.upper() in NATIVE_TYPES.get(spec.type, ())
    if native:
        value = (
            f"CAST({col} AS DOUBLE)"
            if spec.type == "float"
            else (f"CAST({col} AS TIMESTAMP)" if spec.type == "timestamp" else col)
        )
        if spec.type == "float":
            checks.append(
                (f"NOT isfinite({value})", f"'type|{spec.name}: expected a finite number, got ' || {_quoted(shown)}")
            )
        if spec.type == "timestamp":
            checks.extend(_timestamp_range(spec, settings, now, value))
        if spec.required:
            checks.insert(0, (f"{col} IS NULL", f"'missing|{spec.name}: required value is missing'"))
        return _finish_checks(spec, settings, value, checks)
    if spec.type in ("id", "text"):
        value = text if spec.type == "id" else f"NULLIF(CAST({col} AS VARCHAR), '')"
    elif spec.type == "int":
        as_double = f"TRY_CAST({text} AS DOUBLE)"
        value = f"(CASE WHEN {as_double} = floor({as_double}) AND abs({as_double}) < 9e15 THEN CAST({as_double} AS BIGINT) END)"
        checks.append(
            (
                f"{text} IS NOT NULL AND {value} IS NULL",
                f"'type|{spec.name}: expected an integer, got ' || {_quoted(shown)}",
            )
        )
    elif spec.type == "float":
        value = f"TRY_CAST({text} AS DOUBLE)"
        checks.append(
            (
                f"{text} IS NOT NULL AND ({value} IS NULL OR NOT isfinite({value}))",
                f"'type|{spec.name}: expected a number, got ' || {_quoted(shown)}",
            )
        )
        value = f"(CASE WHEN isfinite({value}) THEN {value} END)"
    elif spec.type == "timestamp":
        # Only strings ending in an offset (Z, +02:00, -0500) need the slower time-zone-aware parse.
        has_offset = (
            f"(right({text}, 1) = 'Z' OR substr({text}, -6, 1) IN ('+', '-') OR substr({text}, -5, 1) IN ('+', '-'))"
        )
        value = (
            f"(CASE WHEN length({text}) > 19 AND {has_offset} "
            f"THEN CAST(TRY_CAST({text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) "
            f"ELSE TRY_CAST({text} AS TIMESTAMP) END)"
        )
        checks.append(
            (
                f"{text} IS NOT NULL AND {value} IS NULL",
                f"'timestamp|{spec.name}: expected a timestamp such as 2024-05-31 14:02:00 (ISO 8601), got ' || {_quoted(shown)}",
            )
        )
        checks.extend(_timestamp_range(spec, settings, now, value))
    elif spec.type == "date":
        value = f"TRY_CAST({text} AS DATE)"
        checks.append(
            (
                f"{text} IS NOT NULL AND {value} IS NULL",
                f"'timestamp|{spec.name}: expected a date such as 2024-05-31, got ' || {_quoted(shown)}",
            )
        )
    elif spec.type == "bool":
        low = f"lower({text})"
        value = f"(CASE WHEN {low} IN {_TRUE} THEN TRUE WHEN {low} IN {_FALSE} THEN FALSE END)"
        checks.append(
            (
                f"{text} IS NOT NULL AND {value} IS NULL",
                f"'type|{spec.name}: expected true or false, got ' || {_quoted(shown)}",
            )
        )
    elif spec.type == "enum":
        value = f"lower({text})"
        choices = "(" + ", ".join(_lit(c) for c in spec.choices) + ")"
        checks.append(
            (
                f"{value} IS NOT NULL AND {value} NOT IN {choices}",
                f"'enum|{spec.name}: expected one of {', '.join(spec.choices)}, got ' || {_quoted(shown)}",
            )
        )
    elif spec.type == "email":
        value = f"lower({text})"
        checks.append(
            (
                f"{value} IS NOT NULL AND NOT regexp_full_match({value}, {_lit(EMAIL_PATTERN)})",
                f"'type|{spec.name}: expected an e-mail address like name@example.com, got ' || {_quoted(shown)}",
            )
        )
    elif spec.type == "phone":
        value = f"NULLIF(regexp_replace({text}, '[^0-9+]', '', 'g'), '')"
        digits = f"length(regexp_replace({text}, '[^0-9]', '', 'g'))"
        checks.append(
            (
                f"{text} IS NOT NULL AND ({digits} < 6 OR {digits} > 15)",
                f"'type|{spec.name}: expected a phone number with 6 to 15 digits, got ' || {_quoted(shown)}",
            )
        )
    else:  # pragma: no cover - FieldType is a closed Literal
        raise AssertionError(spec.type)

    if spec.required:
        checks.insert(0, (f"{text} IS NULL", f"'missing|{spec.name}: required value is missing'"))
    return _finish_checks(spec, settings, value, checks)


def _timestamp_range(spec: FieldSpec, settings: Settings, now: dt.datetime, value: str) -> list[tuple[str, str]]:
    earliest = settings.earliest_date
    latest = (now + dt.timedelta(days=settings.future_tolerance_days)).strftime("%Y-%m-%d %H:%M:%S")
    return [
        (
            f"{value} < TIMESTAMP {_lit(earliest)}",
            f"'timestamp|{spec.name}: ' || CAST({value} AS VARCHAR) || ' is before {earliest}, not a plausible date'",
        ),
        (
            f"{value} > TIMESTAMP {_lit(latest)}",
            f"'timestamp|{spec.name}: ' || CAST({value} AS VARCHAR) || ' is in the future'",
        ),
    ]


def _finish_checks(spec: FieldSpec, settings: Settings, value: str, checks: list[tuple[str, str]]) -> FieldSQL:
    limit = (
        spec.max
        if spec.max is not None
        else (getattr(settings, spec.max_setting) if spec.max_setting and spec.type in ("int", "float") else None)
    )
    if spec.min is not None:
        message = "must not be negative" if spec.min == 0 else f"must be at least {_num(spec.min)}"
        checks.append(
            (f"{value} < {_num(spec.min)}", f"'range|{spec.name}: {message}, got ' || CAST({value} AS VARCHAR)")
        )
    if limit is not None:
        checks.append(
            (
                f"{value} > {_num(limit)}",
                f"'range|{spec.name}: must be at most {_num(limit)}, got ' || CAST({value} AS VARCHAR)",
            )
        )
    if spec.nonzero:
        checks.append((f"{value} = 0", f"'range|{spec.name}: must not be zero'"))
    max_length = spec.max_length or (
        getattr(settings, spec.max_setting) if spec.max_setting and spec.type == "text" else None
    )
    if max_length is not None and spec.type in ("id", "text", "email", "phone"):
        checks.append(
            (
                f"length({value}) > {max_length}",
                f"'length|{spec.name}: text is ' || CAST(length({value}) AS VARCHAR) || ' characters, longer than the limit {max_length}'",
            )
        )
    if not checks:
        return FieldSQL(value, "NULL")
    error = "CASE " + " ".join(f"WHEN {cond} THEN {msg}" for cond, msg in checks) + " END"
    return FieldSQL(value, error)


def _quoted(expr: str) -> str:
    """SQL producing the value in single quotes, shortened to 80 characters."""
    return f"('''' || CASE WHEN length({expr}) > 80 THEN left({expr}, 77) || '...' ELSE {expr} END || '''')"


@dataclass
class ValidationResult:
    clean_table: str
    rejects_table: str
    rows_in: int
    rows_valid: int


def validate(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    raw_table: str,
    columns: list[str],
    settings: Settings,
    *,
    references: dict[str, str] | None = None,
    now: dt.datetime | None = None,
) -> ValidationResult:
    """Validate `raw_table` for `spec`; returns the names of the clean and rejects relations.

    `references` maps a referencing field to a workbench relation (table or subquery) with one
    column ``key`` holding every acceptable value (store rows plus rows of the same load).

    One pass over the input builds ``<name>_checked`` (typed values, and per field and reference the
    reason it is invalid); everything after reads that table: one aggregate counts the valid rows and
    their distinct keys (duplicates are looked for only when they differ), rejected records are picked
    out only when there are any, and ``<name>_clean`` is a view (nothing is copied), so a bulk load
    reads its input once, validates it once and writes it once. The raw relation may be a view over the
    file (Parquet is read by row group), and the checked table spills to DuckDB's temporary directory
    beyond its memory limit, so memory stays bounded for files larger than RAM.
    """
    now = now or utcnow()
    present = [f for f in spec.fields if f.name in columns]
    types = {row[0]: str(row[1]) for row in con.execute(f"DESCRIBE {raw_table}").fetchall()}
    missing_required = [f for f in spec.fields if f.required and f.name not in columns]
    selects = ["__line"]
    errors: list[tuple[str, str]] = []  # (field name, error column)
    for f in present:
        sql = field_sql(f, settings, now, types.get(f.name, "VARCHAR"))
        selects.append(f"{sql.value} AS {quote(f.name)}")
        if sql.error != "NULL":
            selects.append(f"{sql.error} AS {quote('__err_' + f.name)}")
            errors.append((f.name, "__err_" + f.name))
    for f in missing_required:  # cannot happen after header checks, kept as a safety net
        selects.append(f"'missing|{f.name}: required value is missing' AS {quote('__err_' + f.name)}")
        errors.append((f.name, "__err_" + f.name))
    # References are checked on the typed values in the same pass (a hash lookup per row).
    ref_selects = []
    for field, relation in (references or {}).items():
        if field not in columns:
            continue
        entity = field.removesuffix("_id")
        err = "__ref_" + field
        ref_selects.append(
            f"CASE WHEN {quote(field)} IS NOT NULL AND {quote(field)} NOT IN (SELECT key FROM {relation}) "
            f"THEN 'reference|{field}: unknown {entity} ' || '''' || {quote(field)} || '''' "
            f"|| ' (not in the store nor in this load); load the {entity}s first' END AS {quote(err)}"
        )
        errors.append((field, err))
    checked = f"{raw_table}_checked"
    typed = f"SELECT {', '.join(selects)} FROM {raw_table}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {checked} AS "
        + (f"SELECT *, {', '.join(ref_selects)} FROM ({typed})" if ref_selects else typed)
    )

    ok = " AND ".join(f"{quote(col)} IS NULL" for _, col in errors) or "TRUE"
    keep = ", ".join(["__line"] + [quote(f.name) for f in present])
    key = ", ".join(quote(k) for k in spec.key)
    rows_in = int(con.execute(f"SELECT count(*) FROM {checked}").fetchone()[0])
    # One aggregate gives the valid rows and their distinct keys (grouping beats count(DISTINCT (a, b))).
    counted = con.execute(
        f"SELECT coalesce(sum(n), 0), count(*) FROM (SELECT count(*) AS n FROM {checked} WHERE {ok} GROUP BY {key})"
        if spec.key
        else f"SELECT count(*), count(*) FROM {checked} WHERE {ok}"
    ).fetchone()
    rows_ok, distinct = int(counted[0]), int(counted[1])

    rejects = f"{raw_table}_rejects"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {rejects} (line BIGINT, field VARCHAR, value VARCHAR, code VARCHAR, reason VARCHAR)"
    )
    if errors and rows_ok < rows_in:
        # Only the failing records are looked at again; the offending value is shown as it was in the
        # file, fetched from the raw relation for those lines alone.
        bad = f"{raw_table}_bad"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {bad} AS SELECT * FROM {checked} WHERE NOT ({ok})")
        shown = [name for name, _ in errors if name in columns]
        raw_cols = ", ".join(["__line"] + [quote(name) for name in dict.fromkeys(shown)])
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {bad}_raw AS SELECT {raw_cols} FROM {raw_table} "
            f"WHERE __line IN (SELECT __line FROM {bad})"
        )
        parts = [
            f"SELECT c.__line AS line, {_lit(name)} AS field, "
            f"{'CAST(r.' + quote(name) + ' AS VARCHAR)' if name in columns else 'NULL'} AS value, "
            f"split_part(c.{quote(col)}, '|', 1) AS code, substr(c.{quote(col)}, length(split_part(c.{quote(col)}, '|', 1)) + 2) AS reason "
            f"FROM {bad} c JOIN {bad}_raw r ON r.__line = c.__line WHERE c.{quote(col)} IS NOT NULL"
            for name, col in errors
        ]
        con.execute(f"INSERT INTO {rejects} {' UNION ALL '.join(parts)}")
        con.execute(f"DROP TABLE IF EXISTS {bad}")
        con.execute(f"DROP TABLE IF EXISTS {bad}_raw")

    clean = f"{raw_table}_clean"
    con.execute(f"DROP VIEW IF EXISTS {clean}")
    if distinct == rows_ok:
        con.execute(f"CREATE TEMP VIEW {clean} AS SELECT {keep} FROM {checked} WHERE {ok}")
        return ValidationResult(clean, rejects, rows_in, rows_ok)
    # Later rows with an already-seen natural key are duplicates: reject them, naming the first line.
    dups = f"{raw_table}_dups"
    dup_label = " || ', ' || ".join(f"CAST(d.{quote(k)} AS VARCHAR)" for k in spec.key)
    key_names = ", ".join(spec.key)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {dups} AS SELECT * FROM (SELECT __line, {key}, "
        f"min(__line) OVER (PARTITION BY {key}) AS __first FROM {checked} WHERE {ok}) WHERE __line <> __first"
    )
    con.execute(
        f"INSERT INTO {rejects} SELECT d.__line, {_lit(key_names)}, {dup_label}, 'duplicate', "
        f"'duplicate key ({key_names}) = (' || {dup_label} || '): first seen on line ' || CAST(d.__first AS VARCHAR) "
        f"FROM {dups} d"
    )
    con.execute(
        f"CREATE TEMP VIEW {clean} AS SELECT {keep} FROM {checked} WHERE {ok} "
        f"AND __line NOT IN (SELECT __line FROM {dups})"
    )
    return ValidationResult(clean, rejects, rows_in, distinct)
