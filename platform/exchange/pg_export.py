"""CSV and JSON Lines exports formatted by PostgreSQL itself (COPY ... TO STDOUT), streamed in chunks.

Building ~100,000 label rows as Python objects costs seconds; PostgreSQL formats them in a fraction of
that. The SELECT is the same role-filtered, user-filtered queryset the Python path uses, so both paths
export exactly the same labels; SQLite (the embedded demo) keeps the Python writers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.db import connection
from psycopg import ClientCursor

from accounts.models import User

from .formats.rows import FORMULA_TEXT_COLUMNS, LABEL_COLUMNS
from .selectors import FIELDS, filtered_labels

TIMESTAMP = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
CHUNK = 1 << 16


def supported() -> bool:
    return connection.vendor == "postgresql"


def _select(user: User, label_type: str, params: Mapping[str, Any], *, for_csv: bool = False) -> str:
    """SELECT producing LABEL_COLUMNS, in order, for one label kind (parameters inlined safely); `for_csv`
    writes booleans as true/false (COPY's CSV would write t/f)."""
    fields = FIELDS[label_type]
    names = list(fields)
    query = filtered_labels(user, label_type, params).order_by("id").values_list(*fields.values()).query
    sql, sql_params = query.sql_with_params()
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    column = {name: f"s.c{i}" for i, name in enumerate(names)}
    exprs = []
    for name in LABEL_COLUMNS:
        if name == "label_type":
            expr = f"'{label_type}'"
        elif name in ("created_at", "updated_at"):
            expr = TIMESTAMP.format(column[name])
        elif name == "comment" and name in column and for_csv:  # CRLF line ends, after _copy's \n -> \r\n
            expr = _no_formula(f"replace({column[name]}, E'\\r\\n', E'\\n')")
        elif name in FORMULA_TEXT_COLUMNS and name in column and for_csv:
            expr = _no_formula(column[name])
        elif name == "present" and name in column and for_csv:
            expr = f"CASE WHEN {column[name]} THEN 'true' WHEN NOT {column[name]} THEN 'false' END"
        elif name in column:
            expr = column[name]
        else:
            expr = "NULL"
        exprs.append(f"{expr} AS {name}")
    inner = ClientCursor(connection.connection).mogrify(sql, sql_params)
    return f"SELECT {', '.join(exprs)} FROM ({inner}) AS s({aliases})"


def _no_formula(expr: str) -> str:
    """SQL for :func:`exchange.formats.rows.neutralise_formula`: a quote before a leading = + - @ tab CR."""
    return (f"CASE WHEN left({expr}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') "
            f"THEN '''' || {expr} ELSE {expr} END")


def _copy(statement: str) -> Iterator[bytes]:
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        pending: list[bytes] = []
        size = 0
        for data in copy:
            pending.append(bytes(data))
            size += len(data)
            if size >= CHUNK:
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)


def csv_stream(user: User, params: Mapping[str, Any], label_types: tuple[str, ...]) -> Iterator[bytes]:
    """RFC 4180 CSV (CRLF line ends, header first), one row per label."""
    yield (",".join(LABEL_COLUMNS) + "\r\n").encode()
    for label_type in label_types:
        statement = f"COPY ({_select(user, label_type, params, for_csv=True)}) TO STDOUT WITH (FORMAT csv)"
        for chunk in _copy(statement):
            yield chunk.replace(b"\n", b"\r\n")


def jsonl_stream(user: User, params: Mapping[str, Any], label_types: tuple[str, ...]) -> Iterator[bytes]:
    """One compact JSON object per line, keys in LABEL_COLUMNS order."""
    for label_type in label_types:
        # CSV with a quote and delimiter that never occur in JSON text: each line is the JSON, verbatim.
        statement = (f"COPY (SELECT row_to_json(t)::text FROM ({_select(user, label_type, params)}) AS t) "
                     "TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')")
        yield from _copy(statement)
