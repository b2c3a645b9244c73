"""Arrow schemas of the files the simulator writes, derived from the canonical store schema.

The generator never declares column types of its own: each file's schema is read off the SQLAlchemy
table in :mod:`marketloop.store.schema` (minus ``source``, which ingestion fills), so a change to the
canonical schema shows up here at once. ``customers.parquet`` is the one deliberate difference: it
carries raw ``email`` and ``phone`` (fake addresses), which ingestion pseudonymises into
``email_hash`` and ``phone_hash``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from marketloop.store import schema

#: Columns of a canonical table that the simulator leaves out of its files.
OMITTED = ("source",)
#: customers.parquet carries these raw columns instead of the hashes.
RAW_CONTACT = {"email_hash": "email", "phone_hash": "phone"}


def arrow_type(column: sa.Column) -> pa.DataType:
    """The Arrow type a canonical column is written with."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.BigInteger):
        return pa.int64()
    if isinstance(kind, sa.Integer):
        return pa.int32()
    if isinstance(kind, sa.Float):
        return pa.float64()
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us")
    if isinstance(kind, sa.Date):
        return pa.date32()
    if isinstance(kind, (sa.String, sa.Text)):
        return pa.string()
    raise TypeError(f"no Arrow type for column {column.name} of type {kind!r}")


def arrow_schema(table_name: str) -> pa.Schema:
    """Arrow schema of the simulator's file for a canonical table (see module docstring)."""
    fields = []
    for column in schema.metadata.tables[table_name].columns:
        if column.name in OMITTED:
            continue
        name = RAW_CONTACT.get(column.name, column.name) if table_name == "customers" else column.name
        fields.append(pa.field(name, arrow_type(column), nullable=True))
    return pa.schema(fields)


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """String ids such as ``C0000042`` built in Arrow's C++ kernels (no Python loop per id)."""
    digits = pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string())
    padded = pc.utf8_lpad(digits, width=width, padding="0")
    return pc.binary_join_element_wise(prefix, padded, "")


def take_strings(values: pa.Array, index: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``values[index]`` as a plain string array, null where ``valid`` is false."""
    indices = pa.array(np.asarray(index, dtype=np.int32), mask=None if valid is None else ~valid)
    return pc.take(values, indices)


def to_table(table_name: str, columns: dict[str, object]) -> pa.Table:
    """Assemble a table in the canonical column order, casting each column to its canonical type."""
    target = arrow_schema(table_name)
    arrays = []
    for field in target:
        value = columns[field.name]
        if not isinstance(value, (pa.Array, pa.ChunkedArray)):
            value = pa.array(value, type=field.type, from_pandas=True)
        if value.type != field.type:
            value = pc.cast(value, field.type)
        arrays.append(value)
    return pa.Table.from_arrays(arrays, schema=target)
