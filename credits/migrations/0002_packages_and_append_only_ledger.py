from decimal import Decimal

from django.db import migrations

PACKAGES = [
    ("Starter", Decimal("100"), 4900, False, 1),
    ("Growth", Decimal("500"), 19900, True, 2),
    ("Pro", Decimal("1000"), 34900, False, 3),
    ("Enterprise", Decimal("5000"), 149900, False, 4),
]


def add_packages(apps, schema_editor):
    CreditPackage = apps.get_model("credits", "CreditPackage")
    for label, credits, price_cents, popular, position in PACKAGES:
        CreditPackage.objects.get_or_create(
            label=label, defaults={"credits": credits, "price_cents": price_cents, "popular": popular,
                                   "position": position},
        )


# The ledger is append-only: corrections are new rows (reversal, adjustment), never edits.
# TRUNCATE (used by test isolation and disaster recovery) is a separate, explicit statement.
APPEND_ONLY = """
CREATE FUNCTION credits_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'credits_credittransaction is append-only: write a reversal or adjustment instead of %', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER credits_ledger_append_only
    BEFORE UPDATE OR DELETE ON credits_credittransaction
    FOR EACH ROW EXECUTE FUNCTION credits_ledger_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS credits_ledger_append_only ON credits_credittransaction;
DROP FUNCTION IF EXISTS credits_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("credits", "0001_initial")]

    operations = [
        migrations.RunPython(add_packages, migrations.RunPython.noop),
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
    ]
