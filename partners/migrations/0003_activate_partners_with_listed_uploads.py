from django.db import migrations


def activate(apps, schema_editor):
    """Partners whose uploads staff already approved were never marked active (approval did not do it then)."""
    PartnerProfile = apps.get_model("partners", "PartnerProfile")
    Upload = apps.get_model("partners", "Upload")
    approved = Upload.objects.filter(status="listed").values("workspace_id")
    PartnerProfile.objects.filter(status="pending", workspace_id__in=approved).update(status="active")


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0002_upload_progress_by_rows"),
    ]

    operations = [
        migrations.RunPython(activate, migrations.RunPython.noop),
    ]
