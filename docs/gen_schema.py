"""Regenerate docs/schema.md from the schema declarations: `.venv/bin/python docs/gen_schema.py`."""

from __future__ import annotations

from pathlib import Path

from marketloop.store import schema

INTRO = """# Data schema

The canonical schema is declared once in `src/marketloop/store/schema.py` (SQLAlchemy Core) and created
by versioned migrations (`src/marketloop/store/migrations.py`) on DuckDB, PostgreSQL and MySQL/MariaDB alike.
Conventions: ids are strings of up to 64 characters; timestamps are naive UTC; money is a double in the store's
currency; every table has a natural primary key, which is what makes ingestion idempotent. On DuckDB the fact
tables (events, orders, order_lines) keep their natural key without a primary-key index: ingestion checks it
set-wise, and maintaining the index row by row cost more than the rest of a bulk load. Secondary indexes
exist on PostgreSQL and MySQL only (DuckDB scans with zone maps). `marketloop db status` shows the row counts and
the schema version.

This page is generated from the declarations (`.venv/bin/python docs/gen_schema.py`); the notes are the
columns' comments in the code.
"""


def render() -> str:
    out = [INTRO]
    for name, table in schema.metadata.tables.items():
        out += [f"## `{name}`", "", "| column | type | key | null | notes |", "|---|---|---|---|---|"]
        for c in table.columns:
            out.append(
                f"| `{c.name}` | {c.type} | {'PK' if c.primary_key else ''} | {'yes' if c.nullable else 'no'} | {c.comment or ''} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    Path(__file__).with_name("schema.md").write_text(render())
