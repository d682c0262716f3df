"""The natural collation pleura_natural (studies.collation) on PostgreSQL: ICU with numeric ordering."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE COLLATION IF NOT EXISTS pleura_natural (provider = icu, locale = 'en-u-kn-true')")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP COLLATION IF EXISTS pleura_natural")


class Migration(migrations.Migration):
    dependencies = [("studies", "0002_video_assignment")]
    operations = [migrations.RunPython(create, drop)]
