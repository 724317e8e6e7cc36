# The workspace foreign keys of leads and tag tallies lose their single-column index: every index of those tables
# starts with the workspace already. Only the index goes, CONCURRENTLY; Django's own AlterField would also drop and
# re-add the foreign-key constraint, re-checking every lead under a lock that blocks writes.

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {"leads_lead": "leads_lead_workspace_id_e3ee80f5", "leads_leadtagtally": "leads_leadtagtally_workspace_id_66de2eea"}


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0005_onboarding_steps_backfill"),
        ("leads", "0015_my_leads_filters_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="lead",
                    name="workspace",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="leads",
                        to="accounts.workspace",
                    ),
                ),
                migrations.AlterField(
                    model_name="leadtagtally",
                    name="workspace",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.workspace"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX CONCURRENTLY IF EXISTS {index}",
                    reverse_sql=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON {table} (workspace_id)",
                )
                for table, index in INDEXES.items()
            ],
        ),
    ]
