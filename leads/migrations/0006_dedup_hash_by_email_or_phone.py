"""A person's identity becomes their email, or their phone when they have no email (was: email + phone).

Every stored hash is recomputed in SQL by the rule of leads.normalize.dedup_hash (emails are stored
normalised and ASCII, phones as E.164, so lower() and the digits match Python's). Where two rows that may not
share a hash now mean the same person (e.g. one workspace holding the same email with two phones), the
oldest takes the new hash and the others keep their old one: nothing is merged or lost, and new arrivals
are deduplicated against the survivor.
"""

from django.db import migrations

NEW_HASH = """encode(sha256(convert_to(CASE WHEN email <> '' THEN 'email:' || lower(email)
                                          ELSE 'phone:' || regexp_replace(phone, '[^0-9]', '', 'g') END,
                                     'UTF8')), 'hex')"""

# (table, the columns its unique hash is scoped by, the rows its uniqueness covers)
TABLES = [
    ("leads_person", [], "TRUE"),
    ("leads_lead", ["workspace_id"], "TRUE"),
    ("marketplace_listing", [], "status <> 'withdrawn'"),
    ("partners_uploadedlead", ["upload_id"], "TRUE"),
]


def _rehash_sql(table: str, scope: list[str], covered: str) -> str:
    partition = ", ".join([*scope, "covered", "new_hash"])
    return f"""
WITH rehashed AS (
    SELECT id, {", ".join(scope) + "," if scope else ""} {NEW_HASH} AS new_hash, ({covered}) AS covered FROM {table}
), ranked AS (
    SELECT id, new_hash, covered, row_number() OVER (PARTITION BY {partition} ORDER BY id) AS rank FROM rehashed
)
UPDATE {table} SET dedup_hash = ranked.new_hash
FROM ranked
WHERE {table}.id = ranked.id AND {table}.dedup_hash <> ranked.new_hash AND (ranked.rank = 1 OR NOT ranked.covered)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0005_person_dedup_hash_constraint"),
        ("marketplace", "0002_lead_purchase_card_refunds"),
        ("partners", "0002_upload_progress_by_rows"),
    ]

    operations = [
        migrations.RunSQL(_rehash_sql(table, scope, covered), reverse_sql=migrations.RunSQL.noop)
        for table, scope, covered in TABLES
    ]
