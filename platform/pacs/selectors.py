"""Reads of the PACS integration."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import DicomwebEndpoint, UidMapping


def endpoints_list() -> QuerySet[DicomwebEndpoint]:
    return DicomwebEndpoint.objects.select_related("site").order_by("name")


def receiver_callers() -> dict[str, int]:
    """Calling AE title -> endpoint id, for the C-STORE receiver (endpoints with an AE title)."""
    return {title.strip(): pk for pk, title in DicomwebEndpoint.objects.exclude(ae_title="")
            .values_list("pk", "ae_title")}


def uid_mappings(site_id: int | None = None) -> QuerySet[UidMapping]:
    rows = UidMapping.objects.order_by("-created_at")
    return rows.filter(site_id=site_id) if site_id else rows
