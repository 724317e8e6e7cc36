from django.db import migrations

# Erasure and the opt-out page find a person's leads across every workspace by identity alone; the leads table's
# own index starts with the workspace. Created here, where the query lives, rather than on leads.Lead.
INDEX = "privacy_lead_dedup_hash_idx"


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0001_initial"),
        ("leads", "0011_duplicate_pairs"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON leads_lead (dedup_hash)",
            f"DROP INDEX IF EXISTS {INDEX}",
        ),
    ]
