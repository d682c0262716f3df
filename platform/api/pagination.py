"""Pagination: cursors for the large, growing lists (frames, labels, predictions), stable under inserts;
limit/offset, bounded, for the small ones."""

from typing import Any

from rest_framework.pagination import CursorPagination, LimitOffsetPagination

#: Past this an offset names no row anyway; larger numbers would overflow the database's bigint (a 500).
MAX_OFFSET = 2**31 - 1


class ById(CursorPagination):
    ordering = "id"
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 2000


class BoundedLimitOffset(LimitOffsetPagination):
    """DRF's limit/offset with both numbers bounded: a huge ``?limit=`` gets ``max_limit`` rows and a
    huge ``?offset=`` an empty page, instead of a database error."""

    max_limit = 1000

    def get_offset(self, request: Any) -> int:
        return min(super().get_offset(request), MAX_OFFSET)
