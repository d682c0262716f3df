"""Seed the default 0–3 LUS severity scale (Soldati et al. 2020) and the segmentation classes."""

from django.db import migrations

LEVELS = [
    (0, "Score 0", "Continuous, regular pleural line with horizontal A-line artefacts.", "#1f77b4"),
    (1, "Score 1", "Indented pleural line; vertical white areas (isolated B-lines) below it.", "#f2c12e"),
    (2, "Score 2", "Broken pleural line; small consolidated areas and confluent B-lines below it.", "#f28e2b"),
    (3, "Score 3", "Dense, large white lung area with or without larger consolidations.", "#d62728"),
]
CLASSES = [
    (0, "background", None, "#000000"),
    (1, "score 0 marker (A-lines)", 0, "#1f77b4"),
    (2, "score 1 marker", 1, "#f2c12e"),
    (3, "score 2 marker", 2, "#f28e2b"),
    (4, "score 3 marker", 3, "#d62728"),
]


def seed(apps, schema_editor):
    ScoreScale = apps.get_model("annotations", "ScoreScale")
    ScoreLevel = apps.get_model("annotations", "ScoreLevel")
    SegmentationClass = apps.get_model("annotations", "SegmentationClass")
    scale, _ = ScoreScale.objects.get_or_create(
        name="LUS 0–3 (Soldati et al. 2020)",
        defaults={"description": "COVID-19 lung-ultrasound severity score per frame or video.", "is_default": True},
    )
    for value, name, description, colour in LEVELS:
        ScoreLevel.objects.update_or_create(
            scale=scale, value=value, defaults={"name": name, "description": description, "colour": colour})
    for index, name, score, colour in CLASSES:
        SegmentationClass.objects.update_or_create(
            index=index, defaults={"name": name, "score": score, "colour": colour})


class Migration(migrations.Migration):
    dependencies = [("annotations", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
