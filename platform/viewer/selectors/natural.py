"""Natural ordering of names for people (patient_2 before patient_10), in the database so that paginated
lists stay ordered, on PostgreSQL and SQLite alike (only REPLACE and LENGTH, which both have)."""

from __future__ import annotations

from django.db.models import F, Value
from django.db.models.expressions import Expression, OrderBy
from django.db.models.functions import Length, Replace


def _without_digits(field: str) -> Expression:
    expression: Expression | F = F(field)
    for digit in "0123456789":
        expression = Replace(expression, Value(digit), Value(""))
    assert isinstance(expression, Expression)
    return expression


def natural_order(field: str, *, descending: bool = False) -> list[OrderBy]:
    """`order_by(*natural_order("code"))`: names with the same letters (digits left out) together, then the
    shorter first, then the name itself. Names that differ in one number (patient_2, patient_10,
    patient_2_R1, patient_10_R1) sort by that number; names whose numbers differ in more than one place
    of equal total length fall back to plain text order."""
    keys: list[Expression | F] = [_without_digits(field), Length(field), F(field)]
    return [key.desc(nulls_last=True) if descending else key.asc(nulls_last=True) for key in keys]
