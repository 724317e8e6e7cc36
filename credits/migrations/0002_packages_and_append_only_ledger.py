from django.db import migrations

from credits.packages import ensure_default_packages


def add_packages(apps, schema_editor):
    ensure_default_packages(apps.get_model("credits", "CreditPackage"))


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
