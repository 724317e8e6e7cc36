from django.db import migrations

# Read by cursive.replicas on the primary only. Unlogged: a fence lives seconds, so it need not survive a crash or
# reach the replicas, and writing it adds no WAL for them to replay.
CREATE = """
CREATE UNLOGGED TABLE cursive_replica_fence (
    workspace_id bigint PRIMARY KEY,
    written_at timestamptz NOT NULL,
    lsn bigint NOT NULL
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("cursive", "0006_outbox"),
    ]

    operations = [
        migrations.RunSQL(CREATE, "DROP TABLE cursive_replica_fence"),
    ]
