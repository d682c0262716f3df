"""Filter fields shared by the apps' FilterSets."""

from __future__ import annotations

from datetime import UTC

import django_filters


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 date-time, compared in UTC: any valid offset (even +18:30, beyond what PostgreSQL
    accepts in a literal) is normalised before it reaches the database."""

    def filter(self, qs, value):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return super().filter(qs, value)
