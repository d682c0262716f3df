"""CSV and JSON Lines: one line per label, every LabelRow column, for spreadsheets and pandas.

Both writers are single-pass generators: rows are formatted into a small text buffer, which leaves as one
bytes chunk whenever it reaches about 64 KiB. JSON goes through :func:`rows.json_compact` (ujson when
installed, about 2.5× faster than the standard library on this kind of row).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from operator import itemgetter

from .rows import (
    CHUNK_SIZE,
    FORMULA_STARTS,
    FORMULA_TEXT_COLUMNS,
    LABEL_COLUMNS,
    LabelRow,
    json_compact,
    neutralise_formula,
)

__all__ = ["write_csv", "write_jsonl"]

if LABEL_COLUMNS[-1] != "vertices":  # write_csv appends the vertices cell itself
    raise ImportError("LABEL_COLUMNS must end with 'vertices'")
_leading = itemgetter(*LABEL_COLUMNS[:-1])
_values = itemgetter(*LABEL_COLUMNS)
_PRESENT, _COMMENT = LABEL_COLUMNS.index("present"), LABEL_COLUMNS.index("comment")
_TEXT = tuple(LABEL_COLUMNS.index(name) for name in FORMULA_TEXT_COLUMNS)


def write_csv(rows: Iterable[LabelRow]) -> Iterator[bytes]:
    """CSV (RFC 4180, UTF-8, ``\\r\\n``) with a header line; vertices as one JSON-encoded cell, None empty,
    ``present`` as ``true`` / ``false`` (as in JSON, and as PostgreSQL's export writes it); free-text cells
    that a spreadsheet would run as a formula get a leading quote (:func:`neutralise_formula`).

    The csv module writes every column but the last, ending the line with a comma; the vertices cell is
    appended directly, always quoted. That skips csv's per-character scan of the longest cell (a third
    of the time on contour-heavy exports).
    """
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerow(LABEL_COLUMNS)
    write_leading = csv.writer(text, lineterminator=",").writerow
    write = text.write
    pending = 0
    number = 0
    try:
        for number, row in enumerate(rows, start=1):  # noqa: B007 (number is reported on KeyError)
            leading = _leading(row)
            present, comment = row["present"], row["comment"]
            if present is not None:  # video findings: JSON's booleans, not Python's True/False
                leading = (*leading[:_PRESENT], "true" if present else "false", *leading[_PRESENT + 1:])
            elif comment and "\n" in comment:  # line ends inside a cell: CRLF, as the PostgreSQL path
                comment = comment.replace("\r\n", "\n").replace("\n", "\r\n")
                leading = (*leading[:_COMMENT], comment, *leading[_COMMENT + 1:])
            if any(isinstance(leading[i], str) and leading[i].startswith(FORMULA_STARTS) for i in _TEXT):
                leading = tuple(neutralise_formula(v) if i in _TEXT else v for i, v in enumerate(leading))
            pending += write_leading(leading)
            vertices = row["vertices"]
            if vertices is None:
                pending += write("\r\n")
            else:
                pending += write('"' + json_compact(vertices).replace('"', '""') + '"\r\n')
            if pending >= CHUNK_SIZE:
                yield _take(text)
                pending = 0
    except KeyError as missing:
        raise ValueError(f"row {number} lacks the column {missing.args[0]!r}") from None
    tail = _take(text)
    if tail:
        yield tail


def write_jsonl(rows: Iterable[LabelRow]) -> Iterator[bytes]:
    """JSON Lines: one strict-JSON object (no NaN) per label with exactly the LabelRow keys, in
    LABEL_COLUMNS order."""
    parts: list[str] = []
    pending = 0
    number = 0
    try:
        for number, row in enumerate(rows, start=1):  # noqa: B007 (number is reported on KeyError)
            line = json_compact(dict(zip(LABEL_COLUMNS, _values(row), strict=True)))
            parts.append(line)
            pending += len(line)
            if pending >= CHUNK_SIZE:
                parts.append("")
                yield "\n".join(parts).encode("utf-8")
                parts.clear()
                pending = 0
    except KeyError as missing:
        raise ValueError(f"row {number} lacks the column {missing.args[0]!r}") from None
    if parts:
        parts.append("")
        yield "\n".join(parts).encode("utf-8")


def _take(text: io.StringIO) -> bytes:
    chunk = text.getvalue().encode("utf-8")
    text.seek(0)
    text.truncate()
    return chunk
