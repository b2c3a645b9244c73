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


#: "0000" .. "9999" as little 4-byte words, for writing four digits per store.
_DIGITS4 = np.frombuffer("".join(f"{v:04d}" for v in range(10_000)).encode(), dtype=np.uint32)


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """String ids such as ``C0000042``: ``prefix`` + ``numbers`` zero-padded to ``width`` digits.

    Built as one fixed-width byte buffer handed to Arrow, with no Python object per id: ids are the
    largest columns the generator writes, and this is several times faster than formatting them.
    The number must fit in ``width`` digits.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    row = len(head) + width
    padded = -(-row // 4) * 4  # digits are written four at a time into a row rounded up to 4 bytes
    words = np.empty((len(numbers), padded // 4), dtype=np.uint32)
    rest = numbers.copy()
    for g in range(padded // 4 - 1, -1, -1):
        words[:, g] = _DIGITS4[rest % 10_000]
        rest //= 10_000
    data = words.view(np.uint8).reshape(len(numbers), padded)[:, padded - row :]
    data = np.ascontiguousarray(data) if padded != row else data
    data[:, : len(head)] = head
    offsets = np.arange(0, (len(numbers) + 1) * row, row, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(numbers), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


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
