from django.db import migrations
from django.utils import timezone

from visitors import partitions


def create_current_partitions(apps, schema_editor):
    # The current months exist from the start, so events are stored before the daily schedule first runs.
    with schema_editor.connection.cursor() as cursor:
        partitions.ensure(cursor, today=timezone.now().date(), ahead=2, retention_months=None)


class Migration(migrations.Migration):
    dependencies = [("visitors", "0001_initial")]

    operations = [
        migrations.RunSQL(partitions.CREATE_PARENT, f"DROP TABLE {partitions.PARENT}"),
        migrations.RunPython(create_current_partitions, migrations.RunPython.noop),
    ]
