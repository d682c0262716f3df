"""Filter choices shared by the viewer's pages: only what exists, with counts, so a filter never offers an
empty choice (a BLUE zone no video was recorded at)."""

from __future__ import annotations

from django.db.models import Count

from studies.models import LungZone, Video


def lung_zone_counts(*, site: int | None = None, patient: int | None = None) -> list[dict]:
    """The BLUE zones that have videos (of `site` / `patient` when given), in protocol order:
    [{value, label, videos}]. One query."""
    videos = Video.objects.all()
    if site is not None:
        videos = videos.filter(exam__patient__site_id=site)
    if patient is not None:
        videos = videos.filter(exam__patient_id=patient)
    counts = dict(videos.order_by().values_list("lung_zone").annotate(n=Count("pk")))
    return [{"value": zone.value, "label": zone.label, "videos": counts[zone.value]}
            for zone in LungZone if counts.get(zone.value)]
