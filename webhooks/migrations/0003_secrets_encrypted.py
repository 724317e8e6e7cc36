# Signing secrets move into encrypted columns (cursive.crypto, keyed by FIELD_ENCRYPTION_KEYS), as mailbox passwords
# are stored. Endpoints are few (a handful per workspace), so one pass in Python is quick.

from django.db import migrations, models

import webhooks.models
from cursive import crypto


def seal(apps, schema_editor):
    Endpoint = apps.get_model("webhooks", "Endpoint")
    for endpoint in Endpoint.objects.only("pk", "secret", "previous_secret").iterator():
        endpoint.secret_encrypted = crypto.encrypt(endpoint.secret)
        endpoint.previous_secret_encrypted = crypto.encrypt(endpoint.previous_secret) if endpoint.previous_secret else ""
        endpoint.save(update_fields=["secret_encrypted", "previous_secret_encrypted"])


def unseal(apps, schema_editor):
    Endpoint = apps.get_model("webhooks", "Endpoint")
    for endpoint in Endpoint.objects.only("pk", "secret_encrypted", "previous_secret_encrypted").iterator():
        endpoint.secret = crypto.decrypt(endpoint.secret_encrypted)
        endpoint.previous_secret = crypto.decrypt(endpoint.previous_secret_encrypted) if endpoint.previous_secret_encrypted else ""
        endpoint.save(update_fields=["secret", "previous_secret"])


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_retention_indexes")]

    operations = [
        migrations.AddField(model_name="endpoint", name="secret_encrypted", field=models.TextField(default="")),
        migrations.AddField(model_name="endpoint", name="previous_secret_encrypted", field=models.TextField(blank=True, default="")),
        migrations.RunPython(seal, unseal),
        migrations.RemoveField(model_name="endpoint", name="secret"),
        migrations.RemoveField(model_name="endpoint", name="previous_secret"),
        migrations.AlterField(
            model_name="endpoint",
            name="secret_encrypted",
            field=models.TextField(default=webhooks.models.new_encrypted_secret),
        ),
        migrations.AlterField(model_name="endpoint", name="previous_secret_encrypted", field=models.TextField(blank=True)),
    ]
