"""Merges re-point what referenced the merged record (purchase items, enrolments, visitors), keep the ledger and the
marketplace consistent, and do not lose rows or deadlock when two merges of overlapping pairs race."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection

from cursive.consistency import run_checks
from cursive.errors import Conflict, NotFound
from leads.duplicates import duplicate_pair_dismiss, duplicate_pair_merge, duplicates_scan, leads_merge, people_merge
from leads.models import DuplicatePair, Lead, Person, VerificationStatus
from leads.services import lead_create, leads_bulk_update
from tests.locking import Paused

from .test_duplicates import make_person

pytestmark = pytest.mark.django_db

_n = itertools.count(1)


@pytest.fixture
def staff_user(db):
    from accounts.services import user_create

    user = user_create(email=f"staff{next(_n)}@cursive.test", password="a-good-staff-pass-1")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def bought_lead(tenant, data: dict) -> Lead:
    """A lead the workspace bought on the marketplace: its purchase item points at it."""
    from credits.services import credits_adjust
    from marketplace.services import listing_create, purchase_create

    listing = listing_create(data=data, price="5", quality=50)
    credits_adjust(workspace=tenant.workspace, amount="5", actor=None, reason="test")
    purchase_create(workspace=tenant.workspace, lead_ids=[listing.pk])
    return Lead.objects.get(workspace=tenant.workspace, dedup_hash=listing.dedup_hash)


def sequence_of(tenant, name: str):
    from sequences.services import mailbox_create, sequence_create
    from tests.mailservers import smtp_server

    controller, smtp = smtp_server()
    try:
        mailbox = mailbox_create(
            workspace=tenant.workspace,
            data={
                "email": f"sender{next(_n)}@acme.test",
                "smtp_host": smtp.host,
                "smtp_port": smtp.port,
                "smtp_username": smtp.username,
                "smtp_password": smtp.password,
                "smtp_security": "none",
            },
        )
    finally:
        controller.stop()
    return sequence_create(
        workspace=tenant.workspace,
        data={"name": name, "mailbox_id": mailbox.pk, "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}]},
    )


def identified_visitor(tenant, email: str):
    from visitors.models import Visitor
    from visitors.services import events_record, pixel_create, visitor_identify_person

    pixel = pixel_create(workspace=tenant.workspace, name=f"Site {next(_n)}", domain="acme.example")
    key = f"visitor-{next(_n)}"
    event = {"type": "pageview", "visitor": key, "url": "https://acme.example/", "referrer": "", "title": "", "name": ""}
    events_record(events=[(pixel.pk, event)])
    visitor = Visitor.objects.get(pixel=pixel, key=key)
    return visitor_identify_person(
        visitor_id=visitor.pk, method="identify", traits={"email": email}, seen_at=dt.datetime.now(dt.UTC)
    )


def test_leads_merge_re_points_purchase_items_enrolments_and_visitors_and_keeps_the_books_clean(tenant):
    from marketplace.models import LeadPurchaseItem
    from sequences.models import Enrollment
    from sequences.services import enrollments_create

    bought = bought_lead(
        tenant, {"first_name": "Robert", "last_name": "Fischer", "company_name": "Vandelay", "email": "rob@vandelay.com"}
    )
    typed = lead_create(
        workspace=tenant.workspace,
        source=Lead.Source.MANUAL,
        data={
            "first_name": "Bob",
            "last_name": "Fischer",
            "company_name": "Vandelay Inc",
            "email": "bob@vandelay.com",
            "title": "CFO",
        },
        tags=["vip"],
    )
    leads_bulk_update(workspace=tenant.workspace, action="approve", lead_ids=[typed.pk])
    both, only_bought = sequence_of(tenant, "Both"), sequence_of(tenant, "Bought only")
    enrollments_create(workspace=tenant.workspace, sequence_id=both.pk, lead_ids=[bought.pk, typed.pk])
    enrollments_create(workspace=tenant.workspace, sequence_id=only_bought.pk, lead_ids=[bought.pk])
    visitor = identified_visitor(tenant, "rob@vandelay.com")
    assert visitor.lead_id == bought.pk

    kept = leads_merge(workspace=tenant.workspace, keep_id=typed.pk, merge_id=bought.pk, actor=tenant.user)

    assert not Lead.objects.filter(pk=bought.pk).exists()
    assert LeadPurchaseItem.objects.get().lead_id == kept.pk
    assert sorted(Enrollment.objects.values_list("sequence_id", "lead_id")) == sorted(
        [(both.pk, kept.pk), (only_bought.pk, kept.pk)]
    )
    visitor.refresh_from_db()
    assert visitor.lead_id == kept.pk
    # The verified email stays; what the kept lead lacked comes from the bought one.
    assert (kept.email, kept.email_status, kept.first_name, kept.title, kept.tags) == (
        "bob@vandelay.com",
        VerificationStatus.VALID,
        "Bob",
        "CFO",
        ["vip"],
    )
    assert run_checks() == []
    call_command("check_consistency")


def test_leads_merge_takes_the_verified_email_with_its_purchase_price_and_identity(tenant):
    bought = bought_lead(tenant, {"first_name": "Ann", "last_name": "Lee", "company_name": "Acme", "email": "ann.lee@acme.com"})
    typed = lead_create(
        workspace=tenant.workspace,
        source=Lead.Source.MANUAL,
        data={"first_name": "Ann", "last_name": "Lee", "company_name": "Acme", "email": "ann@acme.com"},
    )
    leads_bulk_update(workspace=tenant.workspace, action="approve", lead_ids=[bought.pk])
    leads_bulk_update(workspace=tenant.workspace, action="reject", lead_ids=[typed.pk])

    kept = leads_merge(workspace=tenant.workspace, keep_id=typed.pk, merge_id=bought.pk, actor=tenant.user)

    assert kept.email == "ann.lee@acme.com" and kept.email_status == VerificationStatus.VALID
    assert kept.acquired_credits == bought.acquired_credits and kept.acquired_reference == bought.acquired_reference
    assert kept.dedup_hash == bought.dedup_hash
    assert kept.source == Lead.Source.MANUAL


def test_person_merge_re_points_visitors_and_leaves_leads_listings_and_purchases_consistent(tenant, other_tenant, staff_user):
    from marketplace.models import LeadPurchaseItem, Listing

    keep = make_person("Robert", "Fischer", "Vandelay", "vandelay.com", email="rob@vandelay.com")
    merged = make_person("Bob", "Fischer", "Vandelay", "vandelay.com", email="bob@vandelay.com", phone="+12125550101")
    # One workspace owns both people (bought one, was visited by the other); another owns only the merged one.
    bought_lead(tenant, {"first_name": "Robert", "last_name": "Fischer", "email": "rob@vandelay.com"})
    visitor = identified_visitor(tenant, "bob@vandelay.com")
    assert visitor.person_id == merged.pk
    theirs = lead_create(workspace=other_tenant.workspace, source=Lead.Source.MANUAL, data={"email": "bob@vandelay.com"})
    duplicates_scan(kind="person")
    pair = DuplicatePair.objects.get(kind="person")

    duplicate_pair_merge(pair_id=pair.pk, keep_id=keep.pk, actor=staff_user)

    assert list(Person.objects.values_list("pk", flat=True)) == [keep.pk]
    visitor.refresh_from_db()
    assert visitor.person_id == keep.pk
    # Workspaces' leads are their own copies and stay; a workspace now holding two leads for one person is told.
    assert Lead.objects.filter(pk=theirs.pk).exists()
    proposed = DuplicatePair.objects.get(kind="lead")
    assert proposed.workspace == tenant.workspace
    assert {proposed.low_id, proposed.high_id} == set(
        Lead.objects.filter(workspace=tenant.workspace).values_list("pk", flat=True)
    )
    assert Listing.objects.count() == 1 and LeadPurchaseItem.objects.get().lead is not None
    pair.refresh_from_db()
    assert pair.status == DuplicatePair.Status.MERGED
    assert run_checks() == []
    call_command("check_consistency")


def test_a_merge_blocked_by_a_protected_row_changes_nothing(tenant, staff_user, settings):
    """Both people were paid for by one workspace (visitor enrichments): merging them would lose a paid row."""
    from credits.services import credits_adjust
    from visitors.services import visitor_enrich

    settings.VISITOR_ENRICHMENT_PRICE = "1.00"
    credits_adjust(workspace=tenant.workspace, amount="10", actor=None, reason="test")
    keep = make_person("Robert", "Fischer", "Vandelay", "vandelay.com", email="rob@vandelay.com")
    merged = make_person("Bob", "Fischer", "Vandelay", "vandelay.com", email="bob@vandelay.com")
    for email in ("rob@vandelay.com", "bob@vandelay.com"):
        visitor_enrich(workspace=tenant.workspace, visitor_id=identified_visitor(tenant, email).pk)

    with pytest.raises(Conflict):
        people_merge(keep_id=keep.pk, merge_id=merged.pk, actor=staff_user)

    assert Person.objects.count() == 2


def test_a_dismissed_pair_follows_the_kept_record_and_is_not_proposed_again(staff_user):
    a = make_person("Robert", "Fischer", "Vandelay", "vandelay.com")
    b = make_person("Bob", "Fischer", "Vandelay", "vandelay.com")
    c = make_person("Rob", "Fischer", "Vandelay", "vandelay.com")
    duplicates_scan(kind="person")
    assert DuplicatePair.objects.count() == 3
    duplicate_pair_dismiss(pair_id=DuplicatePair.objects.get(low_id=b.pk, high_id=c.pk).pk, actor=staff_user)

    people_merge(keep_id=a.pk, merge_id=b.pk, actor=staff_user)
    duplicates_scan(kind="person")

    assert set(DuplicatePair.objects.values_list("low_id", "high_id", "status")) == {
        (a.pk, b.pk, "merged"),
        (a.pk, c.pk, "dismissed"),
    }
    with pytest.raises(NotFound):
        duplicate_pair_dismiss(pair_id=DuplicatePair.objects.get(low_id=a.pk, high_id=c.pk).pk, actor=staff_user)


def test_a_workspace_cannot_merge_or_dismiss_another_workspaces_pair(tenant, other_tenant):
    data = {"last_name": "Fischer", "company_name": "Vandelay", "company_domain": "vandelay.com"}
    for first in ("Robert", "Bob"):
        lead_create(
            workspace=other_tenant.workspace,
            source="manual",
            data={**data, "first_name": first, "email": f"{first}@vandelay.com"},
        )
    duplicates_scan(kind="lead", workspace=other_tenant.workspace)
    pair = DuplicatePair.objects.get()

    with pytest.raises(NotFound):
        duplicate_pair_merge(pair_id=pair.pk, keep_id=pair.low_id, actor=tenant.user, workspace=tenant.workspace)
    with pytest.raises(NotFound):
        duplicate_pair_dismiss(pair_id=pair.pk, actor=tenant.user, workspace=tenant.workspace)
    with pytest.raises(NotFound):
        leads_merge(workspace=tenant.workspace, keep_id=pair.low_id, merge_id=pair.high_id, actor=tenant.user)
    assert Lead.objects.filter(workspace=other_tenant.workspace).count() == 2


def _a_lock_is_awaited(seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


@pytest.mark.django_db(transaction=True)
def test_two_merges_of_overlapping_pairs_at_once_neither_deadlock_nor_lose_a_row(staff_user):
    """B into A holds both rows locked while C into B starts: the second waits for B, then finds it merged."""
    a = make_person("Robert", "Fischer", "Vandelay", "vandelay.com")
    b = make_person("Bob", "Fischer", "Vandelay", "vandelay.com", phone="+12125550101")
    c = make_person("Rob", "Fischer", "Vandelay", "vandelay.com", title="CFO")
    second: dict = {}

    def merge_c_into_b():
        try:
            second["result"] = people_merge(keep_id=b.pk, merge_id=c.pk, actor=staff_user)
        except Exception as exc:  # shown below, whatever it is
            second["error"] = exc
        finally:
            connection.close()

    with Paused(lambda: people_merge(keep_id=a.pk, merge_id=b.pk, actor=staff_user), r'"leads_person".*FOR UPDATE'):
        thread = threading.Thread(target=merge_c_into_b)
        thread.start()
        assert _a_lock_is_awaited(), "the second merge should wait for the first one's locks"
    thread.join(30)

    assert not thread.is_alive()
    assert isinstance(second.get("error"), NotFound)
    assert sorted(Person.objects.values_list("pk", flat=True)) == [a.pk, c.pk]
    kept = Person.objects.get(pk=a.pk)
    assert kept.phone == "+12125550101"
