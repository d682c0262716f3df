"""Existing videos get the pseudonymous names new uploads get (issue 16, item 10).

Videos imported before kept the uploaded file's name, which may hold the patient's name or MRN. Each is
renamed to `pseudonymous_file_name(...)`, except COVID-BLUeS names (patient_<ID>_<zone>[_n].mp4 of their
own patient), which are the dataset's pseudonyms already. The old name is kept in `upload_name` only
where PLEURA_KEEP_UPLOAD_NAMES is on; the Django admin's history shows the new name. Not reversible.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import migrations

from studies.ingest.pseudonyms import pseudonymous_file_name
from studies.ingest.store import SOURCE_SUFFIX

COVID_BLUES_NAME = re.compile(r"^patient_\d+_[LR][1-3](?:_\d+)?\.mp4$")
BATCH = 1000


def rename_videos(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    Video = apps.get_model("studies", "Video")
    renamed = []
    for video in Video.objects.select_related("exam__patient").order_by("pk").iterator(chunk_size=BATCH):
        code = video.exam.patient.code
        if COVID_BLUES_NAME.match(video.original_name) and video.original_name.startswith(f"{code}_"):
            continue
        video.upload_name = video.original_name if settings.PLEURA_KEEP_UPLOAD_NAMES else ""
        video.original_name = pseudonymous_file_name(
            sha256=video.sha256, patient_code=code, lung_zone=video.lung_zone,
            suffix=SOURCE_SUFFIX.get(video.format, ""), key=settings.PLEURA_PSEUDONYM_KEY)
        renamed.append(video)
    Video.objects.bulk_update(renamed, ["original_name", "upload_name"], batch_size=BATCH)
    _rename_admin_history(apps, {str(video.pk): video.original_name for video in renamed})


def _rename_admin_history(apps, names: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    if not names:
        return
    ContentType = apps.get_model("contenttypes", "ContentType")
    LogEntry = apps.get_model("admin", "LogEntry")
    content_type = ContentType.objects.filter(app_label="studies", model="video").first()
    if content_type is None:
        return
    entries = list(LogEntry.objects.filter(content_type=content_type, object_id__in=list(names)))
    for entry in entries:
        entry.object_repr = names[entry.object_id][:200]
    LogEntry.objects.bulk_update(entries, ["object_repr"], batch_size=BATCH)


class Migration(migrations.Migration):

    dependencies = [
        ("studies", "0005_video_upload_name"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(rename_videos, migrations.RunPython.noop)]
