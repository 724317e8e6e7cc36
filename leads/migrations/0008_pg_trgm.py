from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    """Trigram similarity for fuzzy duplicates and enrichment's name + company matching (leads.similarity)."""

    dependencies = [("leads", "0007_lead_acquired_credits_lead_acquired_reference_and_more")]

    operations = [TrigramExtension()]
