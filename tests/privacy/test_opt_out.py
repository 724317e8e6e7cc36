"""The public opt-out page: ask, get a link by email, confirm with a POST; nothing reveals who is in the database."""

import json
import re
import time

import pytest
from django.core import mail, signing
from django.utils import timezone

from cursive.models import Job
from leads.models import Lead, Person, Suppression
from leads.services import lead_create
from privacy.models import OptOutRequest
from privacy.services import (
    REQUESTS_PER_ADDRESS_PER_HOUR,
    REQUESTS_PER_IP_PER_HOUR,
    opt_out_requests_expire,
    opt_out_token,
)
from tests.segments.conftest import make_person

from .conftest import EMAIL, run_jobs

pytestmark = pytest.mark.django_db

PAGE = "/privacy/opt-out"
SENT = "If we hold data about this address, we sent a link to it."


def ask(client, email=EMAIL, kind="erase", **extra):
    return client.post(PAGE, {"email": email, "kind": kind}, **extra)


def emailed_link() -> str:
    """The confirmation link of the last email, as a path."""
    mail.outbox.clear()
    assert run_jobs("privacy.tasks.send_opt_out_link") == 1
    message = mail.outbox[-1]
    assert message.to == [EMAIL]
    url = re.search(r"https?://\S+/privacy/opt-out/confirm/\S+", message.body).group(0)
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def person(db):
    return make_person(email=EMAIL, first_name="Alex", last_name="Morgan", title="Head of Sales")


def test_the_page_is_public(client):
    page = client.get(PAGE)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="email"' in body and 'value="erase"' in body and 'value="copy"' in body
    assert "<script" not in body and "style=" not in body  # the strict CSP allows neither


class TestErasure:
    def test_ask_follow_the_link_confirm_and_be_erased(self, client, person):
        answer = ask(client, email="  Alex.Morgan@Erase.EXAMPLE ")
        assert answer.status_code == 200 and SENT in answer.content.decode()
        link = emailed_link()

        page = client.get(link)  # what a mail scanner does: nothing
        assert page.status_code == 200 and "Erase my data" in page.content.decode()
        assert Person.objects.filter(pk=person.pk).exists()
        assert OptOutRequest.objects.get().status == OptOutRequest.Status.PENDING

        done = client.post(link)
        assert done.status_code == 200 and "Your data is erased" in done.content.decode()
        assert not Person.objects.filter(pk=person.pk).exists()
        assert Suppression.objects.filter(workspace__isnull=True, reason="erased").count() == 1
        request = OptOutRequest.objects.get()
        assert request.status == OptOutRequest.Status.COMPLETED and request.email == "" and request.completed_at
        assert request.email_hash == person.dedup_hash

    def test_a_used_link_is_refused(self, client, person):
        ask(client)
        link = emailed_link()
        assert client.post(link).status_code == 200
        for method in (client.get, client.post):
            again = method(link)
            assert again.status_code == 400 and "expired or was already used" in again.content.decode()

    def test_an_expired_link_is_refused_and_changes_nothing(self, client, person, monkeypatch):
        ask(client)
        request = OptOutRequest.objects.get()
        issued = time.time() - 25 * 3600
        monkeypatch.setattr(signing.time, "time", lambda: issued)
        token = opt_out_token(request)
        monkeypatch.undo()
        response = client.post(f"{PAGE}/confirm/{token}")
        assert response.status_code == 400
        assert Person.objects.filter(pk=person.pk).exists()

    def test_a_forged_link_is_refused(self, client, person):
        ask(client)
        token = opt_out_token(OptOutRequest.objects.get())
        assert client.post(f"{PAGE}/confirm/{token[:-2]}xx").status_code == 400
        assert client.post(f"{PAGE}/confirm/{signing.dumps({'request': 1})}").status_code == 400  # another salt
        assert Person.objects.filter(pk=person.pk).exists()

    def test_unconfirmed_requests_expire_and_forget_the_address(self, client, person):
        ask(client)
        OptOutRequest.objects.update(expires_at=timezone.now())
        assert opt_out_requests_expire() == 1
        request = OptOutRequest.objects.get()
        assert request.status == OptOutRequest.Status.EXPIRED and request.email == ""
        assert run_jobs("privacy.tasks.send_opt_out_link") == 1 and not mail.outbox  # nothing sent for it any more


class TestNothingIsRevealed:
    def test_an_unknown_address_gets_the_same_answer_and_no_email(self, client, person):
        known = ask(client)
        unknown = ask(client, email="nobody@elsewhere.example")
        assert unknown.status_code == known.status_code == 200
        strip = lambda response: re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())  # noqa: E731
        assert strip(unknown) == strip(known)
        assert OptOutRequest.objects.count() == 1
        assert Job.objects.filter(func="privacy.tasks.send_opt_out_link").count() == 1

    def test_a_workspace_lead_is_data_we_hold(self, client, tenant):
        lead_create(workspace=tenant.workspace, data={"email": EMAIL}, source="manual")
        ask(client)
        assert OptOutRequest.objects.count() == 1

    def test_a_malformed_address_is_asked_again(self, client):
        response = ask(client, email="not an address")
        assert response.status_code == 400 and "valid email address" in response.content.decode()


class TestRateLimits:
    def test_one_address_gets_a_few_links_an_hour(self, client, person):
        for _ in range(REQUESTS_PER_ADDRESS_PER_HOUR):
            assert ask(client).status_code == 200
        refused = ask(client, REMOTE_ADDR="203.0.113.9")  # from anywhere
        assert refused.status_code == 429 and "Too many requests" in refused.content.decode()
        assert OptOutRequest.objects.count() == REQUESTS_PER_ADDRESS_PER_HOUR

    def test_one_sender_gets_a_few_requests_an_hour(self, client):
        for n in range(REQUESTS_PER_IP_PER_HOUR):
            assert ask(client, email=f"someone{n}@elsewhere.example").status_code == 200
        assert ask(client, email="another@elsewhere.example").status_code == 429
        assert ask(client, email="another@elsewhere.example", REMOTE_ADDR="203.0.113.9").status_code == 200


class TestCopyOfData:
    def test_the_copy_is_emailed_after_confirmation(self, client, person, tenant, other_tenant):
        for holder in (tenant, other_tenant):
            lead_create(workspace=holder.workspace, data={"email": EMAIL, "first_name": "Alex"}, source="manual")
        ask(client, kind="copy")
        link = emailed_link()
        assert "Email me my data" in client.get(link).content.decode()
        assert client.post(link).status_code == 200
        assert OptOutRequest.objects.get().status == OptOutRequest.Status.CONFIRMED

        mail.outbox.clear()
        assert run_jobs("privacy.tasks.send_data_copy") == 1
        message = mail.outbox[-1]
        assert message.to == [EMAIL]
        assert "2 Cursive customers hold your contact details" in message.body
        name, content, mimetype = message.attachments[0]
        copy = json.loads(content)
        assert name == "cursive-data.json" and mimetype == "application/json"
        assert copy["lead_database"]["title"] == "Head of Sales" and copy["lead_database"]["email"] == EMAIL
        assert copy["company"]["domain"] == person.company.domain
        assert copy["customers_holding_your_contact_details"] == 2
        assert tenant.workspace.name not in message.body + content  # which customers is theirs to tell
        request = OptOutRequest.objects.get()
        assert request.status == OptOutRequest.Status.COMPLETED and request.email == ""
        assert Person.objects.filter(pk=person.pk).exists() and Lead.objects.count() == 2  # a copy erases nothing
        assert client.post(link).status_code == 400
