from django.db import migrations

# Each workspace's steps from what it already did, dated by the first time it did it. A Lead Search leaves no
# row of its own; a saved segment or a segment run was one. Pixels keep only their latest hit: the date is a
# "by then" for those. No bonus is granted here: it rewards finishing the checklist, which these did without it.
BACKFILL = """
INSERT INTO accounts_onboardingstep (workspace_id, step, done_at)
SELECT workspace_id, 'buy_credits', min(completed_at) FROM credits_creditpurchase
WHERE completed_at IS NOT NULL GROUP BY workspace_id
UNION ALL
SELECT workspace_id, 'search_database', min(at) FROM (
    SELECT workspace_id, created_at AS at FROM segments_segment
    UNION ALL
    SELECT segment.workspace_id, run.created_at FROM segments_segmentrun AS run
    JOIN segments_segment AS segment ON segment.id = run.segment_id
) AS searches GROUP BY workspace_id
UNION ALL
SELECT workspace_id, 'create_segment', min(created_at) FROM segments_segment GROUP BY workspace_id
UNION ALL
SELECT workspace_id, 'install_pixel', min(last_event_at) FROM visitors_pixel
WHERE last_event_at IS NOT NULL GROUP BY workspace_id
UNION ALL
SELECT workspace_id, 'add_webhook', min(created_at) FROM webhooks_endpoint GROUP BY workspace_id
ON CONFLICT (workspace_id, step) DO NOTHING
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_onboarding_steps"),
        ("credits", "0006_low_balance_and_auto_reload"),
        ("segments", "0002_verbose_names"),
        ("visitors", "0005_visitor_enrichment"),
        ("webhooks", "0001_initial"),
    ]

    operations = [migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop)]
