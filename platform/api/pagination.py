"""Cursor pagination for the large, growing lists (frames, labels, predictions): stable under inserts."""

from rest_framework.pagination import CursorPagination


class ById(CursorPagination):
    ordering = "id"
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 2000
