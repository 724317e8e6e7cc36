"""leads 0006 re-keys every stored identity hash (email, or phone without email) and merges nothing."""

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from leads.models import Lead, Person
from leads.normalize import dedup_hash
from marketplace.models import Listing

BEFORE = [("leads", "0005_person_dedup_hash_constraint")]
AFTER = [("leads", "0006_dedup_hash_by_email_or_phone")]


def old_hash(email: str, phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return hashlib.sha256(f"{email.lower()}|{digits}".encode()).hexdigest()


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def migrate_to_latest():
    """Going back to 0005 also unapplies every app's migrations that depend on 0006: re-apply them all, or
    the tests that run after this one in the same database would find those tables missing."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def lead_as_of(targets):
    """The Lead model as the schema at `targets` has it: today's model names columns added later."""
    return MigrationExecutor(connection).loader.project_state(targets).apps.get_model("leads", "Lead")


def with_old_hash(model, **fields):
    return model.objects.create(**fields, dedup_hash=old_hash(fields.get("email", ""), fields.get("phone", "")))


@pytest.mark.django_db(transaction=True)
def test_hashes_are_rekeyed_and_same_person_rows_are_kept(tenant):
    migrate(BEFORE)
    old_lead = lead_as_of(BEFORE)
    try:
        first = with_old_hash(
            old_lead, workspace_id=tenant.workspace.pk, source="manual", email="ann@acme.example", phone="+14155550001"
        )
        second = with_old_hash(
            old_lead, workspace_id=tenant.workspace.pk, source="manual", email="ann@acme.example", phone="+14155550002"
        )
        phone_only = with_old_hash(old_lead, workspace_id=tenant.workspace.pk, source="manual", phone="+14155550003")
        person = with_old_hash(Person, first_name="Bo", email="bo@beta.example", phone="+14155550004")
        # Written as rows: listing_create reads the suppression list, a table this old schema does not have yet.
        withdrawn = with_old_hash(Listing, email="cy@gamma.example", price="10.00", status=Listing.Status.WITHDRAWN)
        listed = with_old_hash(Listing, email="cy@gamma.example", phone="+14155550005", price="10.00")
        kept_old = old_hash("ann@acme.example", "+14155550002")
    finally:
        migrate(AFTER)
        migrate_to_latest()

    def hash_of(model, row):
        return model.objects.values_list("dedup_hash", flat=True).get(pk=row.pk)

    assert hash_of(Lead, first) == dedup_hash("ann@acme.example", "")
    assert hash_of(Lead, second) == kept_old, "the same person twice in one workspace: the newer keeps its old key"
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 3, "nothing merged or deleted"
    assert hash_of(Lead, phone_only) == dedup_hash("", "+14155550003")
    assert hash_of(Person, person) == dedup_hash("bo@beta.example", "")
    assert hash_of(Listing, listed) == hash_of(Listing, withdrawn) == dedup_hash("cy@gamma.example", "")


def test_the_same_email_is_the_same_person_whatever_the_phone():
    assert dedup_hash("Ann@Acme.example", "+1 415 555 0001") == dedup_hash("ann@acme.example", "")
    assert dedup_hash("", "+1 (415) 555-0001") == dedup_hash(None, "14155550001")
    assert dedup_hash("", "+14155550001") != dedup_hash("x@y.example", "+14155550001")
