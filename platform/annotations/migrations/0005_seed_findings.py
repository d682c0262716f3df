"""Seed the vocabulary of video findings (admins add more in the Django admin)."""

from django.db import migrations

FINDINGS = [
    ("a_lines", "A-lines", "Horizontal reverberation artefacts of a normally aerated lung."),
    ("b_lines", "B-lines", "Vertical, laser-like artefacts from the pleural line to the bottom of the image."),
    ("irregular_pleura", "Irregular pleural line", "Broken, thickened, fragmented or otherwise irregular pleura."),
    ("consolidation", "Consolidation", "Hypo-echoic, tissue-like (subpleural) area of non-aerated lung."),
    ("white_lung", "White lung", "Confluent B-lines filling the intercostal space."),
    ("effusion", "Pleural effusion", "Anechoic fluid between the pleural layers."),
]


def seed(apps, schema_editor):
    Finding = apps.get_model("annotations", "Finding")
    for order, (code, name, description) in enumerate(FINDINGS):
        Finding.objects.update_or_create(code=code, defaults={"name": name, "description": description,
                                                              "order": order})


class Migration(migrations.Migration):
    dependencies = [("annotations", "0004_video_findings")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
