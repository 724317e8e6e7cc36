"""The partner's first steps: where a new partner lands, and what the portal says at each stage."""

import importlib

import pytest
from django.apps import apps
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Workspace
from accounts.services import invitation_create
from marketplace.models import Listing
from marketplace.services import purchase_create
from partners.models import PartnerProfile, Upload
from partners.services import partner_profile_ensure, upload_approve, upload_reject
from tests.conftest import PASSWORD
from tests.marketplace.conftest import fund

from .conftest import csv_text, person, upload_bytes

pytestmark = pytest.mark.django_db

SIGNUP = {"full_name": "Pat Partner", "password": "a-good-password-1", "workspace_name": "Northwind Data"}


def test_a_partner_who_signs_up_lands_on_the_portal_with_what_to_do_first(client):
    response = client.post("/signup/", {**SIGNUP, "email": "pat@northwind.test", "kind": "partner"}, follow=True)
    assert response.redirect_chain == [("/partner/", 302)]
    page = response.content.decode()
    assert 'data-testid="first-steps"' in page
    assert 'href="/partner/uploads/new/">Upload your first CSV' in page
    assert "You earn 70% of every sale" in page and "price per lead" in page
    assert "Get your first lead" not in page


def test_a_buyer_who_signs_up_still_lands_on_the_dashboard(client):
    response = client.post("/signup/", {**SIGNUP, "email": "bo@buyer.test", "kind": "buyer"})
    assert response.url == "/"


def test_a_partner_who_logs_in_lands_on_the_portal_and_a_buyer_on_the_dashboard(client, partner, tenant):
    partner_login = client.post("/login/", {"username": partner.user.email, "password": PASSWORD})
    assert partner_login.url == "/partner/"
    client.logout()
    assert client.post("/login/", {"username": tenant.user.email, "password": PASSWORD}).url == "/"
    client.logout()
    where_asked = client.post("/login/?next=/leads/", {"username": partner.user.email, "password": PASSWORD})
    assert where_asked.url == "/leads/", "a link the partner followed to log in still wins"


def test_a_new_partner_workspace_and_a_switch_to_it_open_the_portal(client, tenant):
    client.force_login(tenant.user)
    created = client.post("/workspaces/new/", {"name": "Resale arm", "kind": "partner"})
    assert created.url == "/partner/"
    back = client.post("/workspaces/switch/", {"workspace_id": tenant.workspace.pk})
    assert back.url == "/"
    partner_workspace = Workspace.objects.get(name="Resale arm")
    assert client.post("/workspaces/switch/", {"workspace_id": partner_workspace.pk}).url == "/partner/"


def test_joining_a_partner_workspace_by_invitation_opens_the_portal(client, partner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(workspace=partner.workspace, invited_by=partner.user, email="new@leadforge.test", role="member")
    token = mail.outbox[-1].body.split("/invitations/")[1].split("/")[0]
    response = client.post(f"/invitations/{token}/", {"full_name": "New Member", "password": "a-good-password-1"})
    assert response.url == "/partner/"


def test_once_the_partner_has_uploaded_the_first_steps_give_way_to_the_uploads(client, partner):
    upload_bytes(partner, csv_text([person(1)]).encode())
    client.force_login(partner.user)
    page = client.get("/partner/").content.decode()
    assert 'data-testid="first-steps"' not in page and "Recent uploads" in page


def portal(client, partner) -> str:
    client.force_login(partner.user)
    return client.get("/partner/").content.decode()


def under_review(client, partner) -> bool:
    return 'data-testid="under-review"' in portal(client, partner)


def test_the_review_banner_shows_until_staff_approve_an_upload_and_never_after(client, partner, tenant_factory):
    assert under_review(client, partner), "a new partner is being reviewed"
    first = upload_bytes(partner, csv_text([person(1), person(2)]).encode())
    assert first.status == Upload.Status.AWAITING_REVIEW and under_review(client, partner)
    upload_reject(upload_id=first.pk, actor=None, note="Old data")
    assert under_review(client, partner), "a rejected upload approves nobody"

    second = upload_bytes(partner, csv_text([person(3), person(4)]).encode())
    upload_approve(upload_id=second.pk, actor=None, note="Welcome")
    assert PartnerProfile.objects.get(workspace=partner.workspace).status == PartnerProfile.Status.ACTIVE
    assert not under_review(client, partner)

    buyer = tenant_factory("Buyer")
    fund(buyer.workspace, 100)
    purchase_create(workspace=buyer.workspace, lead_ids=[Listing.objects.filter(partner=partner.workspace).first().pk])
    third = upload_bytes(partner, csv_text([person(5)]).encode())
    assert third.status == Upload.Status.AWAITING_REVIEW
    page = portal(client, partner)
    assert 'data-testid="under-review"' not in page and "being reviewed" not in page, "after sales, with a new upload pending"


def test_a_trusted_partner_is_never_shown_as_being_reviewed(client, partner):
    profile = partner_profile_ensure(workspace=partner.workspace)
    PartnerProfile.objects.filter(pk=profile.pk).update(trusted=True)
    assert not under_review(client, partner)
    upload = upload_bytes(partner, csv_text([person(1)]).encode())
    assert upload.status == Upload.Status.LISTED
    assert PartnerProfile.objects.get(pk=profile.pk).status == PartnerProfile.Status.ACTIVE


def test_a_suspended_partner_sees_the_suspension_not_the_review_and_approval_does_not_lift_it(client, partner):
    upload = upload_bytes(partner, csv_text([person(1)]).encode())
    profile = partner_profile_ensure(workspace=partner.workspace)
    PartnerProfile.objects.filter(pk=profile.pk).update(status=PartnerProfile.Status.SUSPENDED)
    upload_approve(upload_id=upload.pk, actor=None)
    assert PartnerProfile.objects.get(pk=profile.pk).status == PartnerProfile.Status.SUSPENDED
    page = portal(client, partner)
    assert "suspended" in page and 'data-testid="under-review"' not in page


def test_partners_approved_before_the_fix_are_activated_by_the_migration(partner, tenant_factory):
    approved = upload_bytes(partner, csv_text([person(1)]).encode())
    upload_approve(upload_id=approved.pk, actor=None)
    PartnerProfile.objects.filter(workspace=partner.workspace).update(status=PartnerProfile.Status.PENDING)
    waiting = tenant_factory("Waiting partner", kind=Workspace.Kind.PARTNER)
    upload_bytes(waiting, csv_text([person(2)]).encode())
    migration = importlib.import_module("partners.migrations.0003_activate_partners_with_listed_uploads")
    migration.activate(apps, None)
    statuses = dict(PartnerProfile.objects.values_list("workspace_id", "status"))
    assert statuses == {partner.workspace.pk: "active", waiting.workspace.pk: "pending"}


def start_upload(client, partner, text: str) -> str:
    client.force_login(partner.user)
    start = client.post("/partner/uploads/new/", {"file": SimpleUploadedFile("x.csv", text.encode()), "price_per_lead": "3"})
    return start.url


def test_the_mapping_step_shows_the_first_rows_verdicts_before_anything_is_processed(client, partner):
    rows = [person(1), person(1, phone=""), person(3, email="broken", phone="")] + [person(i) for i in range(4, 40)]
    url = start_upload(client, partner, csv_text(rows))
    page = client.get(url).content.decode()
    assert page.count('data-testid="verdict-row"') == 20
    assert 'data-outcome="duplicate"' in page and "Same person as line 2 of your file." in page
    assert 'data-outcome="invalid"' in page and "This is not a valid email address." in page
    assert "Of the first 20 rows: <strong>18</strong> valid, <strong>1</strong> duplicate, <strong>1</strong> invalid" in page
    assert not Upload.objects.exists()


def test_changing_the_mapping_checks_the_first_rows_again_without_submitting(client, partner):
    url = start_upload(client, partner, "Nombre,Correo,Otro\nAnn,ann@a.example,bob@b.example\nBob,broken,cy@c.example\n")
    first = client.get(url).content.decode()
    assert "Choose the column that holds email addresses or phone numbers" in first, "nothing recognised yet"
    by_hand = {"col_0": "first_name", "col_1": "email", "col_2": "", "price_per_lead": "3", "preview": "1"}
    partial = client.post(url, by_hand, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert partial.status_code == 200 and partial["Vary"] and "HX-Request" in partial["Vary"]
    assert body.lstrip().startswith('<section class="card" id="verdicts"') and "<html" not in body
    assert [o for o in ("valid", "invalid") if f'data-outcome="{o}"' in body] == ["valid", "invalid"]
    other_column = client.post(url, {**by_hand, "col_1": "", "col_2": "email"}, HTTP_HX_REQUEST="true").content.decode()
    assert other_column.count('data-outcome="valid"') == 2
    twice = client.post(url, {**by_hand, "col_2": "email"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Each lead field can come from one column only" in twice and "verdict-row" not in twice
    without_javascript = client.post(url, by_hand).content.decode()
    assert "Check the columns" in without_javascript and without_javascript.count('data-testid="verdict-row"') == 2
    assert not Upload.objects.exists()
    done = client.post(url, {key: value for key, value in by_hand.items() if key != "preview"})
    assert done.status_code == 302 and Upload.objects.get().mapping == {"Nombre": "first_name", "Correo": "email"}
