"""The set-based frame-score statements (annotations.score_writes) name their columns in SQL: a column added
to FrameScore or LabelChange later must be written there too, or have a database default or allow NULL."""

from __future__ import annotations

import re

import pytest
from django.db.models import NOT_PROVIDED

from annotations.models import FrameScore, LabelChange
from annotations.score_writes import WRITE_SQL


@pytest.mark.parametrize("model", [FrameScore, LabelChange])
def test_the_write_statement_fills_every_required_column(model):  # type: ignore[no-untyped-def]
    table = model._meta.db_table
    listed = re.search(rf"INSERT INTO {table} \(([^)]*)\)", WRITE_SQL)
    assert listed is not None, f"WRITE_SQL inserts into {table}"
    written = {name.strip() for name in listed.group(1).split(",")}
    required = {field.column for field in model._meta.concrete_fields
                if not field.primary_key and not field.null and field.db_default is NOT_PROVIDED}
    assert required <= written, f"columns of {table} the statement leaves out: {sorted(required - written)}"
