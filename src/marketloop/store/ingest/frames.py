"""Reading a whole table file into a pandas DataFrame, for the commands that evaluate on a file
(`eval recs`, `eval sentiment`, `eval intents`, `reviews train`, ...) rather than load it into the store.

One reader, one set of errors: a missing file, an unreadable one, a wrong separator or missing columns
each give an :class:`~marketloop.errors.InputError` naming the file, what was found and how to fix it.
The separator of a delimited text file is the one given (``sep``), else the one its name implies (comma,
tab for ``.tsv``). When the file does not read with that separator, or lacks a column it must have, the
error names the separator it was read with and the one its header line looks like it uses, so a
semicolon or tab file is one ``--sep`` away; nothing is guessed silently (a guess that splits a text
column on its commas would change what is evaluated without a word).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from marketloop.errors import InputError, NotFoundError

#: separators by name, so a shell user can write --sep tab or --sep ';'
SEPARATORS = {
    ",": ",",
    "comma": ",",
    ";": ";",
    "semicolon": ";",
    "\t": "\t",
    "\\t": "\t",
    "tab": "\t",
    "|": "|",
    "pipe": "|",
}
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SHOWN = {",": "','", ";": "';'", "\t": "'\\t'", "|": "'|'"}


def parse_sep(sep: str | None, option: str = "--sep") -> str | None:
    """The one-character separator `sep` names (``tab``, ``\\t``, ``;``, ...), None when not given."""
    if sep is None or sep == "":
        return None
    found = SEPARATORS.get(sep.lower() if len(sep) > 1 else sep)
    if found is None:
        raise InputError(
            f"{option} {sep!r} is not a separator this reader knows (expected one of: comma ',', semicolon ';', "
            "tab '\\t', pipe '|')",
            field="sep",
            value=sep,
            hint=f"Pass {option} ';' or {option} tab.",
        )
    return found


def show_sep(sep: str) -> str:
    return _SHOWN.get(sep, repr(sep))


def _header_line(path: Path) -> str:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
            return handle.readline().rstrip("\r\n")
    except (OSError, EOFError):
        return ""


def guess_sep(header: str) -> str | None:
    """The separator a header line most likely uses (csv.Sniffer over the known ones), None if unclear."""
    if not header:
        return None
    try:
        return csv.Sniffer().sniff(header, delimiters="".join(_NAMES)).delimiter
    except csv.Error:
        counts = {s: header.count(s) for s in _NAMES}
        best = max(counts, key=counts.get)
        return best if counts[best] else None


def _default_sep(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    return "\t" if name.endswith((".tsv", ".tab")) else ","


def read_frame(
    path: str | Path,
    *,
    sep: str | None = None,
    columns: Sequence[str] = (),
    option: str = "--data",
    sep_option: str = "--sep",
    encoding: str = "utf-8-sig",
) -> pd.DataFrame:
    """Read a CSV / TSV (optionally gzipped), Parquet or JSON Lines file; `columns` must be present.

    `option` names the command-line option that gave the path (for the messages), `sep_option` the one
    that sets the separator.
    """
    file = Path(path)
    if file.is_dir():  # a folder of Parquet parts (what `marketloop sim generate` writes)
        try:
            frame = pd.read_parquet(file)
        except (ValueError, OSError) as exc:
            raise InputError(
                f"cannot read the folder {option} {str(path)!r} as Parquet parts: {str(exc).splitlines()[0]}",
                field=option.lstrip("-"),
                value=str(path),
                hint="Give a file, or a folder holding only .parquet parts.",
            ) from None
        return _check_columns(frame, file, columns, option, None, False, sep_option)
    if not file.is_file():
        raise NotFoundError(
            f"{option} {str(path)!r} does not exist (or is not a file)",
            hint=f"Check the {option} path.",
        )
    if file.stat().st_size == 0:
        raise InputError(
            f"{option} {str(path)!r} is empty: expected a header line and records",
            field=option.lstrip("-"),
            value=str(path),
            hint="Check that the export finished writing.",
        )
    name = file.name.lower()
    used = parse_sep(sep, sep_option)
    delimited = not name.endswith((".parquet", ".pq", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"))
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(file)
        elif not delimited:
            frame = pd.read_json(file, lines=True)
        else:
            used = used or _default_sep(file)
            frame = pd.read_csv(file, sep=used, low_memory=False, encoding=encoding)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if delimited:
            raise _separator_error(file, used, sep is None, first, option, sep_option) from None
        raise InputError(
            f"cannot read {option} {str(path)!r} as a table: {first}",
            field=option.lstrip("-"),
            value=str(path),
            hint="Give a CSV / TSV (optionally gzipped), Parquet or JSON Lines file.",
        ) from None
    return _check_columns(frame, file, columns, option, used, sep is None, sep_option)


def _check_columns(
    frame: pd.DataFrame,
    file: Path,
    columns: Sequence[str],
    option: str,
    used: str | None,
    defaulted: bool,
    sep_option: str,
) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(repr, map(str, frame.columns[:15])))
        message = f"{option} {str(file)!r} has no column(s) {', '.join(map(repr, missing))}"
        hint = "Name the columns with the command's column options."
        if used is not None:
            message += f" (read with separator {show_sep(used)}, {_how(defaulted, sep_option)})"
            guessed = guess_sep(_header_line(file))
            if guessed is not None and guessed != used:
                message += f"; its header line looks {_NAMES[guessed]}-separated ({show_sep(guessed)})"
                hint = f"Pass {sep_option} {_NAMES[guessed]} to read it that way."
        raise InputError(f"{message}; it has {found}", field="columns", value=missing, hint=hint)
    return frame


def _how(defaulted: bool, sep_option: str) -> str:
    return "the default for this file name" if defaulted else f"given by {sep_option}"


def _separator_error(file: Path, used: str, defaulted: bool, problem: str, option: str, sep_option: str) -> InputError:
    guessed = guess_sep(_header_line(file))
    message = (
        f"cannot read {option} {str(file)!r} with separator {show_sep(used)} ({_how(defaulted, sep_option)}): {problem}"
    )
    if guessed is not None and guessed != used:
        message += f"; its header line looks {_NAMES[guessed]}-separated ({show_sep(guessed)})"
        hint = f"Pass {sep_option} {_NAMES[guessed]} to read it that way."
    else:
        hint = f"Check the file, the column options and the separator ({sep_option})."
    return InputError(message, field="sep", value=used, hint=hint)
