"""Marker classes read as LUS findings: each class links to a finding of the shared vocabulary, whose
name the viewer shows. Class indexes and stored names do not change (masks, exports and imports use them)."""

import django.db.models.deletion
from django.db import migrations, models

# class index -> finding code: the markers of scores 0–3 (Soldati et al.)
MARKER_FINDINGS = {1: "a_lines", 2: "b_lines", 3: "consolidation", 4: "white_lung"}


def link(apps, schema_editor):
    SegmentationClass = apps.get_model("annotations", "SegmentationClass")
    Finding = apps.get_model("annotations", "Finding")
    findings = {f.code: f for f in Finding.objects.filter(code__in=MARKER_FINDINGS.values())}
    for cls in SegmentationClass.objects.filter(index__in=MARKER_FINDINGS, finding__isnull=True):
        finding = findings.get(MARKER_FINDINGS[cls.index])
        if finding is not None:
            cls.finding = finding
            cls.save(update_fields=["finding"])


class Migration(migrations.Migration):
    dependencies = [("annotations", "0005_seed_findings")]
    operations = [
        migrations.AddField(
            model_name="segmentationclass", name="finding",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                to="annotations.finding",
                help_text="The LUS finding this marker outlines: its name is what the viewer shows (the stored "
                          "index and name stay as they are, exports and imports read them).")),
        migrations.RunPython(link, migrations.RunPython.noop),
    ]
