from django.db import migrations

# The lead score of leads/scoring.py as one SQL function: the nightly and profile re-scores (an UPDATE over a
# workspace's leads) and the purchase function (the score of a lead as it is inserted) both call it, so the
# formula lives once in SQL; score_factors() explains the same points to a person and a test holds the two
# together. The weights are those of leads.scoring (DELIVERABILITY, ENGAGEMENT, FIT, RECENCY).
SCORE_FUNCTION = """
CREATE OR REPLACE FUNCTION leads_score(
    email_status varchar, phone_status varchar, pages_viewed integer, seconds_on_site integer,
    company_size varchar, industry varchar, created_at timestamptz,
    profile_sizes varchar[], profile_industries varchar[], at timestamptz
) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT LEAST(
        CASE WHEN email_status = 'valid' THEN 20 ELSE 0 END
        + CASE WHEN phone_status = 'valid' THEN 10 ELSE 0 END
        + LEAST(pages_viewed * 3, 15) + LEAST(seconds_on_site / 20, 15)
        + CASE WHEN company_size <> '' AND company_size = ANY(profile_sizes) THEN 12 ELSE 0 END
        + CASE WHEN industry <> '' AND industry = ANY(profile_industries) THEN 13 ELSE 0 END
        + CASE WHEN created_at > at - interval '8 days' THEN 15
               WHEN created_at > at - interval '31 days' THEN 10
               WHEN created_at > at - interval '91 days' THEN 5
               ELSE 0 END,
        100)
$$
"""


class Migration(migrations.Migration):
    dependencies = [("leads", "0011_duplicate_pairs")]

    operations = [
        migrations.RunSQL(
            SCORE_FUNCTION,
            "DROP FUNCTION leads_score(varchar, varchar, integer, integer, varchar, varchar, timestamptz, varchar[], varchar[], timestamptz)",
        )
    ]
