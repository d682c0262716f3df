"""Natural ordering of names for people (patient_2 before patient_10, patient_10_R1 before patient_11_L1),
in the database so that paginated lists stay ordered: the "natural" collation (studies.collation), ICU
numeric ordering on PostgreSQL and the same comparison registered on SQLite."""

from __future__ import annotations

from django.db.models import F
from django.db.models.expressions import Expression, OrderBy
from django.db.models.functions import Collate

from studies.collation import NATURAL


def natural_order(field: str, *, descending: bool = False) -> list[OrderBy]:
    """`order_by(*natural_order("code"))`: by `field` in the natural collation, ties by the plain text."""
    keys: list[Expression | F] = [Collate(F(field), NATURAL), F(field)]
    return [key.desc(nulls_last=True) if descending else key.asc(nulls_last=True) for key in keys]
