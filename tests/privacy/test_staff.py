"""Staff erase at once: `manage.py erase_person EMAIL` and the lead database's admin action (after a confirmation page)."""

import io
import itertools
from decimal import Decimal

import pytest
from django.contrib.admin import helpers
from django.core.management import CommandError, call_command

from accounts.services import user_create
from credits.models import CreditAccount
from cursive.models import AuditEvent
from leads.models import Lead, Person, Suppression
from privacy.models import OptOutRequest
from privacy.services import opt_out_request
from segments.services import segment_create, segment_pull
from tests.segments.conftest import make_person

from .conftest import EMAIL

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/leads/person/"
_n = itertools.count(1)


@pytest.fixture
def staff(client):
    user = user_create(email=f"staff{next(_n)}@cursive.test", password="a-good-staff-pass-1")
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(user)
    return user


def pulled_by(buyer) -> Lead:
    segment = segment_create(workspace=buyer.workspace, name="Everyone", filters={})
    segment_pull(workspace=buyer.workspace, segment_id=segment.pk, limit=10)
    return Lead.objects.get(workspace=buyer.workspace, email=EMAIL)


class TestCommand:
    def test_erases_at_once_and_says_what_it_did(self, buyer):
        make_person(email=EMAIL)
        pulled_by(buyer)
        out = io.StringIO()
        call_command("erase_person", EMAIL.upper(), "--reason", "Ticket 7", stdout=out)
        assert not Person.objects.filter(email=EMAIL).exists() and not Lead.objects.filter(email=EMAIL).exists()
        assert Suppression.objects.filter(workspace__isnull=True, reason="erased").exists()
        assert "1 lead(s) in 1 workspace(s)" in out.getvalue() and "1 refund(s) of 1.00 credits" in out.getvalue()
        assert CreditAccount.objects.get(workspace=buyer.workspace).balance == Decimal("100.00")
        audit = AuditEvent.objects.get(action="privacy.erase")
        assert audit.actor is None and audit.reason == "Ticket 7"

    def test_twice_is_harmless(self, buyer):
        make_person(email=EMAIL)
        pulled_by(buyer)
        call_command("erase_person", EMAIL, stdout=io.StringIO())
        out = io.StringIO()
        call_command("erase_person", EMAIL, stdout=out)
        assert "0 lead(s)" in out.getvalue() and "0 refund(s)" in out.getvalue()
        assert CreditAccount.objects.get(workspace=buyer.workspace).balance == Decimal("100.00")

    def test_a_malformed_address_is_an_error(self, db):
        with pytest.raises(CommandError, match="valid email"):
            call_command("erase_person", "nope", stdout=io.StringIO())


class TestAdminAction:
    def test_confirmation_first_then_erasure(self, client, staff, buyer):
        person = make_person(email=EMAIL)
        keep = make_person()
        pulled_by(buyer)
        data = {"action": "erase", helpers.ACTION_CHECKBOX_NAME: [person.pk]}

        page = client.post(CHANGELIST, data)
        assert page.status_code == 200
        body = page.content.decode()
        assert "Erase these people?" in body and EMAIL in body and 'name="confirmed" value="yes"' in body
        assert Person.objects.filter(pk=person.pk).exists()  # nothing happened yet

        done = client.post(CHANGELIST, {**data, "confirmed": "yes", "reason": "Asked by phone"}, follow=True)
        assert done.status_code == 200 and "1 person erased everywhere." in done.content.decode()
        assert not Person.objects.filter(pk=person.pk).exists() and Person.objects.filter(pk=keep.pk).exists()
        assert not Lead.objects.filter(email=EMAIL).exists()
        audit = AuditEvent.objects.get(action="privacy.erase")
        assert audit.actor == staff and audit.reason == "Asked by phone"

    def test_opt_out_requests_are_listed_without_the_address(self, client, staff):
        make_person(email=EMAIL)
        opt_out_request(email=EMAIL, kind=OptOutRequest.Kind.ERASE, ip="192.0.2.1")
        request = OptOutRequest.objects.get()
        listing = client.get("/admin/privacy/optoutrequest/")
        assert listing.status_code == 200 and request.email_hash[:12] in listing.content.decode()
        detail = client.get(f"/admin/privacy/optoutrequest/{request.pk}/change/")
        assert detail.status_code == 200 and EMAIL not in detail.content.decode()
