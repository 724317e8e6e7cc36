"""Filling an identified visitor's lead from the lead database is paid for, once per person."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from credits.errors import InsufficientCredits
from credits.models import CreditAccount, CreditTransaction
from credits.services import credits_adjust
from cursive.errors import Conflict, NotFound
from leads.models import Lead
from tests.segments.conftest import make_person
from visitors.models import Pixel, Visitor, VisitorEnrichment
from visitors.services import visitor_enrich

from .conftest import beacon, make_pixel, pageview
from .test_identify import form, run_identification

pytestmark = pytest.mark.django_db


def balance(tenant) -> Decimal:
    account = CreditAccount.objects.filter(workspace=tenant.workspace).first()
    return account.balance if account else Decimal(0)


@pytest.fixture
def person():
    return make_person(email="kim@initech.example", title="Head of Growth", phone="+15125550123", email_verified=True)


def identified(tenant, person, *, visitor="v1", auto_enrich=False) -> Visitor:
    pixel = make_pixel(tenant) if not Pixel.objects.filter(workspace=tenant.workspace).exists() else Pixel.objects.get()
    Pixel.objects.filter(pk=pixel.pk).update(auto_enrich=auto_enrich)
    beacon(Client(), [pageview(pixel, visitor=visitor), form(pixel, visitor=visitor, email=person.email)])
    run_identification()
    return Visitor.objects.get(key=visitor)


def test_auto_enrichment_fills_the_lead_and_charges_once_per_person(tenant, person):
    credits_adjust(workspace=tenant.workspace, amount=10, actor=None, reason="test")
    visitor = identified(tenant, person, auto_enrich=True)
    lead = Lead.objects.get(workspace=tenant.workspace)
    assert (lead.title, lead.phone, lead.email_status) == ("Head of Growth", "+15125550123", "valid")
    assert visitor.title == "Head of Growth"
    assert balance(tenant) == Decimal("9.00")
    spend = CreditTransaction.objects.get(kind="spend")
    assert spend.reference == VisitorEnrichment.objects.get().reference

    identified(tenant, person, visitor="v2-on-the-phone", auto_enrich=True)
    assert balance(tenant) == Decimal("9.00"), "the same person again costs nothing"
    assert VisitorEnrichment.objects.count() == 1
    call_command("check_consistency", stdout=StringIO())


def test_without_enough_credits_the_visitor_is_identified_but_not_enriched(tenant, person):
    visitor = identified(tenant, person, auto_enrich=True)
    assert visitor.identified_by == "form" and visitor.lead_id is not None
    assert Lead.objects.get().title == ""
    assert not VisitorEnrichment.objects.exists() and balance(tenant) == 0


def test_enriching_by_hand(tenant, other_tenant, person):
    visitor = identified(tenant, person)
    with pytest.raises(InsufficientCredits):
        visitor_enrich(workspace=tenant.workspace, visitor_id=visitor.pk)
    assert not VisitorEnrichment.objects.exists() and Lead.objects.get().title == ""

    with pytest.raises(NotFound):
        visitor_enrich(workspace=other_tenant.workspace, visitor_id=visitor.pk)
    credits_adjust(workspace=tenant.workspace, amount=1, actor=None, reason="test")
    visitor_enrich(workspace=tenant.workspace, visitor_id=visitor.pk, actor=tenant.user)
    assert Lead.objects.get().title == "Head of Growth" and balance(tenant) == 0
    visitor_enrich(workspace=tenant.workspace, visitor_id=visitor.pk)
    assert balance(tenant) == 0


def test_a_visitor_not_in_the_database_cannot_be_enriched(tenant):
    pixel = make_pixel(tenant)
    beacon(Client(), form(pixel, email="nobody@nowhere.example"))
    run_identification()
    with pytest.raises(Conflict):
        visitor_enrich(workspace=tenant.workspace, visitor_id=Visitor.objects.get().pk)


def test_the_drawer_offers_the_paid_fill_and_shows_it_done(client, tenant, person):
    visitor = identified(tenant, person)
    browser = tenant.browser_client(client)
    drawer = browser.get(f"/visitors/{visitor.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "Fill from the lead database (1.00 credits)" in drawer

    refused = browser.post(f"/visitors/{visitor.pk}/enrich/", HTTP_REFERER=f"/visitors/{visitor.pk}/")
    assert refused.status_code in (302, 402) and not VisitorEnrichment.objects.exists()

    credits_adjust(workspace=tenant.workspace, amount=1, actor=None, reason="test")
    done = browser.post(f"/visitors/{visitor.pk}/enrich/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="enriched"' in done and "Head of Growth" in done
    assert balance(tenant) == 0


def test_auto_enrich_is_a_setting_of_the_pixel_page(client, tenant):
    pixel = make_pixel(tenant)
    browser = tenant.browser_client(client)
    assert "1.00 credits per person" in browser.get(f"/pixels/{pixel.pk}/").content.decode()
    browser.post(f"/pixels/{pixel.pk}/", {"edit-name": "Main site", "edit-domain": "example.com", "edit-auto_enrich": "on"})
    assert Pixel.objects.get().auto_enrich is True
    browser.post(f"/pixels/{pixel.pk}/", {"edit-name": "Main site", "edit-domain": "example.com"})
    assert Pixel.objects.get().auto_enrich is False


def test_another_workspaces_visitor_cannot_be_enriched_from_the_page(client, tenant, other_tenant, person):
    visitor = identified(tenant, person)
    credits_adjust(workspace=other_tenant.workspace, amount=5, actor=None, reason="test")
    response = other_tenant.browser_client(client).post(f"/visitors/{visitor.pk}/enrich/")
    assert response.status_code == 404 and not VisitorEnrichment.objects.exists()
