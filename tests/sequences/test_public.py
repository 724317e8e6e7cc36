"""The click redirect, the open pixel and the unsubscribe page and one-click POST, as a recipient reaches them."""

from urllib.parse import parse_qs, urlsplit

import pytest

from leads.models import Suppression
from leads.services import lead_create
from sequences import tokens
from sequences.models import Enrollment, Message
from sequences.services import enrollments_create, sequence_create
from visitors.click_ids import click_id_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(tenant, mailbox):
    """A message as the sender records it when it claims a step (the engine's own tests cover the claim)."""
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={"name": "Intro", "mailbox_id": mailbox.pk, "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}]},
    )
    lead = lead_create(workspace=tenant.workspace, data={"email": "Ann@Example.test", "first_name": "Ann"}, source="manual")
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk])
    enrollment = Enrollment.objects.get(lead=lead)
    return Message.objects.create(
        workspace=tenant.workspace,
        enrollment=enrollment,
        step=sequence.steps.get(),
        mailbox=mailbox,
        message_id="m1@acme.test",
        to_email=enrollment.email,
        status=Message.Status.SENT,
    )


def test_one_click_unsubscribe_suppresses_and_ends_the_enrolment(client, tenant, message):
    path = urlsplit(tokens.unsubscribe_url(message.pk)).path
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Suppression.objects.filter(workspace=tenant.workspace, email="ann@example.test", reason="unsubscribed").exists()
    enrollment = Enrollment.objects.get(pk=message.enrollment_id)
    assert enrollment.status == "unsubscribed" and enrollment.next_send_at is None
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200  # again: still fine, nothing new
    assert Suppression.objects.filter(workspace=tenant.workspace).count() == 1


def test_the_unsubscribe_page_asks_first_and_a_forged_token_is_refused(client, message):
    path = urlsplit(tokens.unsubscribe_url(message.pk)).path
    page = client.get(path)
    assert page.status_code == 200 and b"ann@example.test" in page.content
    assert Enrollment.objects.get(pk=message.enrollment_id).status == "active"
    assert client.get(path[:-3] + "xx/").status_code == 404


def test_a_click_is_recorded_and_carries_the_click_id_the_pixel_reads(client, tenant, message):
    url = tokens.click_url(message.pk, "https://acme.test/pricing?plan=pro")
    response = client.get(urlsplit(url).path + "?" + urlsplit(url).query)
    assert response.status_code == 302
    destination = urlsplit(response["Location"])
    assert destination.netloc == "acme.test" and destination.path == "/pricing"
    query = parse_qs(destination.query)
    assert query["plan"] == ["pro"]
    assert click_id_email(query["cursive_cid"][0], workspace_id=tenant.workspace.pk) == "ann@example.test"
    message.refresh_from_db()
    assert message.clicked_at is not None


def test_a_changed_click_link_is_refused(client, message):
    url = tokens.click_url(message.pk, "https://acme.test/")
    assert client.get(urlsplit(url).path + "?t=" + parse_qs(urlsplit(url).query)["t"][0][:-2] + "zz").status_code == 400


def test_the_open_pixel_records_an_open(client, message):
    response = client.get(urlsplit(tokens.open_url(message.pk)).path)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    message.refresh_from_db()
    assert message.opened_at is not None
