import pytest
from django.core import mail

from cursive.jobs import job_run
from cursive.models import AuditEvent, Job
from website.models import ContactRequest
from website.services import contact_requests_mark_handled

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Ada Lovelace",
    "email": "ada@engines.example",
    "company": "Analytical Engines",
    "tier": "outbound",
    "message": "We would like 20 meetings a month with CFOs.",
    "website": "",
}


def test_the_three_tiers_side_by_side_and_the_form(client):
    html = client.get("/services?tier=data").content.decode()
    for tier in ("DIY", "Cursive Data", "Outbound"):
        assert f"<h2>{tier}</h2>" in html
    assert '<input type="radio" name="tier" value="data" id="id_tier_1" required checked>' in html, "?tier= picks one"
    assert 'name="message"' in html


def test_a_message_is_stored_and_emailed_to_staff_after_commit(client, settings, django_capture_on_commit_callbacks):
    settings.CONTACT_REQUESTS_EMAIL = ["sales@cursive.test", "founders@cursive.test"]
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/services", VALID)
    assert response.status_code == 302 and response.url == "/services?sent=1#contact"
    contact = ContactRequest.objects.get()
    assert (contact.name, contact.email, contact.tier, contact.status) == ("Ada Lovelace", VALID["email"], "outbound", "new")
    assert len(callbacks) == 1 and not mail.outbox, "the email waits for the commit, in a job"
    job = Job.objects.get(func="website.tasks.send_contact_request")
    assert job_run(job.pk) == "succeeded"
    [email] = mail.outbox
    assert email.to == ["sales@cursive.test", "founders@cursive.test"]
    assert email.reply_to == [VALID["email"]]
    assert "Outbound" in email.subject and "Ada Lovelace" in email.subject
    assert "20 meetings a month" in email.body and f"/admin/website/contactrequest/{contact.pk}/change/" in email.body
    assert b'data-testid="contact-sent"' in client.get(response.url).content


def test_invalid_input_is_shown_on_the_page_and_nothing_is_stored(client):
    response = client.post("/services", {**VALID, "email": "not-an-email", "message": "", "tier": "platinum"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address." in html and "This field is required." in html
    assert "Ada Lovelace" in html, "what was typed is kept"
    assert not ContactRequest.objects.exists() and not Job.objects.exists()


def test_a_filled_honeypot_looks_sent_but_stores_nothing(client):
    response = client.post("/services", {**VALID, "website": "https://spam.example"})
    assert response.status_code == 302 and response.url == "/services?sent=1#contact"
    assert not ContactRequest.objects.exists()


def test_one_address_sending_too_many_messages_is_refused(client, settings):
    settings.CONTACT_REQUESTS_PER_IP_PER_HOUR = 2
    for _ in range(2):
        assert client.post("/services", VALID).status_code == 302
    response = client.post("/services", VALID)
    assert response.status_code == 429
    assert b"Too many messages" in response.content
    assert ContactRequest.objects.count() == 2
    other = client.post("/services", VALID, REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 302, "another address is not affected"


def test_a_line_break_in_the_name_is_refused(client):
    response = client.post("/services", {**VALID, "name": "Ada\r\nBcc: everyone@example.com"})
    assert response.status_code == 400
    assert not ContactRequest.objects.exists()


def test_staff_see_requests_in_admin_and_mark_them_handled(client, django_user_model):
    from accounts.services import user_create

    staff = user_create(email="staff@cursive.test", password="correct-horse-battery-9", is_staff=True)
    client.post("/services", VALID)
    contact = ContactRequest.objects.get()
    client.force_login(staff)
    listing = client.get("/admin/website/contactrequest/")
    assert listing.status_code == 200 and b"Ada Lovelace" in listing.content
    assert client.get(f"/admin/website/contactrequest/{contact.pk}/change/").status_code == 200
    response = client.post(
        "/admin/website/contactrequest/", {"action": "mark_handled", "_selected_action": [contact.pk]}, follow=True
    )
    assert b"1 request(s) marked handled." in response.content
    contact.refresh_from_db()
    assert contact.status == "handled" and contact.handled_by == staff and contact.handled_at
    assert AuditEvent.objects.filter(action="contact_request.handled", target=f"contact_request:{contact.pk}").exists()
    assert contact_requests_mark_handled(contact_request_ids=[contact.pk], actor=staff) == 0, "already handled"
