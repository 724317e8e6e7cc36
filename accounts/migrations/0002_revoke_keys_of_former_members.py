from django.db import migrations
from django.db.models import Exists, OuterRef
from django.utils import timezone


def revoke_keys_of_former_members(apps, schema_editor):
    """Keys made by people who had already left their workspace before removals revoked keys: authentication
    refuses them now, and Settings should say so instead of listing them as active."""
    ApiKey = apps.get_model("accounts", "ApiKey")
    Membership = apps.get_model("accounts", "Membership")
    AuditEvent = apps.get_model("cursive", "AuditEvent")
    member = Membership.objects.filter(workspace=OuterRef("workspace"), user=OuterRef("created_by"))
    orphans = ApiKey.objects.filter(created_by__isnull=False, revoked_at__isnull=True).exclude(Exists(member))
    now = timezone.now()
    for key in orphans.order_by("pk"):
        AuditEvent.objects.create(actor=None, action="accounts.api_key_revoke", target=f"api_key:{key.pk}",
                                  workspace_id=key.workspace_id, reason="Its creator is no longer a member.",
                                  data={"prefix": key.prefix}, created_at=now)
    orphans.update(revoked_at=now)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("cursive", "0003_auditevent_idempotencyrecord"),
    ]

    operations = [migrations.RunPython(revoke_keys_of_former_members, migrations.RunPython.noop)]
