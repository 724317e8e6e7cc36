from django.db import migrations

from website.legal import ensure_default_pages


def add_pages(apps, schema_editor):
    ensure_default_pages(apps.get_model("website", "LegalPage"))


class Migration(migrations.Migration):
    dependencies = [("website", "0001_initial")]

    operations = [migrations.RunPython(add_pages, migrations.RunPython.noop)]
