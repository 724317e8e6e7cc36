"""The sequence pages: the list, the builder and its htmx step partials and preview, the report, the mailboxes and
the lead drawer's timeline. Status codes, tenancy, empty states, validation messages."""

from __future__ import annotations

import pytest
from django.utils import timezone

from leads.services import lead_create
from sequences import selectors
from sequences.models import Enrollment, Mailbox, Message, Sequence, Step
from sequences.services import enrollments_create, mailbox_create, message_clicked, sequence_create, sequence_update

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def browser(client, tenant):
    return tenant.browser_client(client)


def make_sequence(tenant, mailbox, *, steps=None, **data) -> Sequence:
    steps = steps if steps is not None else [{"type": "email", "subject": "Hi {{first_name|there}}", "body": "Hello"}]
    return sequence_create(workspace=tenant.workspace, data={"name": "Intro", "mailbox_id": mailbox.pk, "steps": steps, **data})


def new_lead(tenant, email, **fields):
    return lead_create(workspace=tenant.workspace, source="manual", data={"email": email, **fields})


def settings_post(mailbox, **overrides) -> dict:
    data = {
        "name": "Pricing visitors",
        "mailbox_id": mailbox.pk,
        "stop_on_reply": "on",
        "send_days": ["mon", "tue", "wed"],
        "send_start": "09:00",
        "send_end": "17:30",
        "website_min_score": "",
        "website_path_contains": "",
        "segment_id": "",
    }
    data.update(overrides)
    return data


def sent_message(sequence, enrollment, *, step=None, n=1, **fields) -> Message:
    """A message as the sender records it (the engine's own tests cover sending)."""
    return Message.objects.create(
        workspace=sequence.workspace,
        enrollment=enrollment,
        step=step or sequence.steps.filter(kind="email").first(),
        mailbox=sequence.mailbox,
        message_id=f"m{enrollment.pk}-{n}@acme.test",
        to_email=enrollment.email,
        status=Message.Status.SENT,
        **fields,
    )


def body(response) -> str:
    return response.content.decode()


# --- The list -----------------------------------------------------------------------------------------------------


def test_the_list_without_a_mailbox_says_connect_one_first(browser):
    page = browser.get("/sequences/")
    assert page.status_code == 200
    text = body(page)
    assert "No sequence yet" in text and "Connect a mailbox" in text and 'href="/sequences/mailboxes/new/"' in text
    assert "New sequence" not in text
    assert 'href="/sequences/"' in text  # the navigation entry
    # Starting a sequence without a mailbox leads to connecting one.
    response = browser.get("/sequences/new/")
    assert response.status_code == 302 and response["Location"] == "/sequences/mailboxes/new/"


def test_the_list_with_a_mailbox_offers_the_first_sequence(browser, mailbox):
    text = body(browser.get("/sequences/"))
    assert "No sequence yet" in text and "Create your first sequence" in text and "Connect a mailbox" not in text


def test_the_list_shows_each_sequence_with_its_counts_and_reply_rate(browser, tenant, mailbox, django_assert_max_num_queries):
    sequence = make_sequence(tenant, mailbox)
    make_sequence(tenant, mailbox, name="Quiet")
    leads = [new_lead(tenant, f"p{n}@initech.test") for n in range(4)]
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk for lead in leads])
    for n, enrollment in enumerate(Enrollment.objects.filter(sequence=sequence).order_by("pk")):
        sent_message(sequence, enrollment, n=n, replied_at=timezone.now() if n == 0 else None)
    with django_assert_max_num_queries(12):
        text = body(browser.get("/sequences/"))
    assert text.count('data-testid="sequence-row"') == 2
    assert "Intro" in text and "Quiet" in text and mailbox.email in text
    assert '<td class="ta-right mono" data-testid="reply-rate" data-label="Reply rate">25%</td>' in text
    annotated = selectors.sequences_list_with_stats(workspace=tenant.workspace).get(pk=sequence.pk)
    stats = selectors.sequence_stats(sequence=sequence)
    assert (annotated.enrolled_count, annotated.sent_count, annotated.replied_count) == (
        stats.enrolled,
        stats.sent,
        stats.replied,
    )


def test_the_list_shows_only_this_workspaces_sequences(browser, tenant, other_tenant, mailbox, mailbox_data):
    theirs = mailbox_create(workspace=other_tenant.workspace, data=mailbox_data)
    make_sequence(other_tenant, theirs, name="Their secret plan")
    assert "Their secret plan" not in body(browser.get("/sequences/"))


# --- Creating and the builder -----------------------------------------------------------------------------------


def test_a_sequence_is_created_from_the_new_page(browser, tenant, mailbox):
    page = browser.get("/sequences/new/")
    assert page.status_code == 200 and mailbox.email in body(page) and "Track opens" in body(page)
    assert "unreliable" in body(page).lower()
    response = browser.post("/sequences/new/", settings_post(mailbox))
    sequence = Sequence.objects.get(workspace=tenant.workspace)
    assert response.status_code == 302 and response["Location"] == f"/sequences/{sequence.pk}/"
    assert sequence.name == "Pricing visitors" and sequence.send_days == ["mon", "tue", "wed"]
    assert str(sequence.send_end) == "17:30:00" and sequence.stop_on_reply and not sequence.track_opens
    builder = body(browser.get(f"/sequences/{sequence.pk}/"))
    assert "No step yet" in builder and "Add an email step to preview it." in builder


def test_the_new_page_shows_validation_messages(browser, tenant, mailbox):
    response = browser.post("/sequences/new/", settings_post(mailbox, name="", send_start="18:00", send_end="09:00"))
    assert response.status_code == 200 and "This field is required." in body(response)
    response = browser.post("/sequences/new/", settings_post(mailbox, send_start="18:00", send_end="09:00"))
    assert "The send window must start before it ends." in body(response)
    assert not Sequence.objects.exists()


def test_settings_are_saved_from_the_builder(browser, tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    response = browser.post(
        f"/sequences/{sequence.pk}/",
        settings_post(
            mailbox,
            name="Renamed",
            track_opens="on",
            skip_holidays="on",
            website_enabled="on",
            website_min_score="70",
            website_path_contains="/pricing",
        ),
    )
    assert response.status_code == 302
    sequence.refresh_from_db()
    assert sequence.name == "Renamed" and sequence.track_opens and sequence.skip_holidays
    assert sequence.website_enabled and sequence.website_min_score == 70 and sequence.website_path_contains == "/pricing"
    refused = browser.post(f"/sequences/{sequence.pk}/", settings_post(mailbox, website_min_score="140"))
    assert refused.status_code == 200 and "Ensure this value is less than or equal to 100." in body(refused)


def test_another_workspaces_sequence_is_not_found(browser, other_tenant, mailbox_data):
    theirs = make_sequence(other_tenant, mailbox_create(workspace=other_tenant.workspace, data=mailbox_data))
    for path in ("", "report/", "preview/"):
        assert browser.get(f"/sequences/{theirs.pk}/{path}").status_code == 404
    for path in ("status/", "delete/", "steps/", "steps/0/", "steps/0/move/", "steps/0/delete/", "enroll/"):
        assert browser.post(f"/sequences/{theirs.pk}/{path}", {"status": "active", "kind": "wait"}).status_code == 404
    assert Sequence.objects.get(pk=theirs.pk).status == "draft" and theirs.steps.count() == 1


def test_steps_are_added_as_htmx_partials(browser, tenant, mailbox):
    sequence = make_sequence(tenant, mailbox, steps=[])
    for kind in ("email", "wait", "email", "condition"):
        response = browser.post(f"/sequences/{sequence.pk}/steps/", {"kind": kind}, **HTMX)
        assert response.status_code == 200
    text = body(response)
    assert text.lstrip().startswith('<div id="steps"') and "<html" not in text and text.count('data-testid="step"') == 4
    assert [step.kind for step in sequence.steps.order_by("position")] == ["email", "wait", "email", "condition"]
    assert sequence.steps.get(position=1).wait_hours == 48
    # Without htmx the same form posts and comes back to the builder.
    response = browser.post(f"/sequences/{sequence.pk}/steps/", {"kind": "wait"})
    assert response.status_code == 302 and sequence.steps.count() == 5
    assert browser.post(f"/sequences/{sequence.pk}/steps/", {"kind": "sms"}, **HTMX)["HX-Reswap"] == "none"


def test_a_step_is_edited_in_place_and_a_refusal_shows_on_its_card(browser, tenant, mailbox):
    sequence = make_sequence(
        tenant, mailbox, steps=[{"type": "email", "subject": "A", "body": "a"}, {"type": "wait", "hours": 24}]
    )
    response = browser.post(
        f"/sequences/{sequence.pk}/steps/0/", {"subject": "Hi {{first_name}}", "body": "About {{company_name|you}}"}, **HTMX
    )
    assert response.status_code == 200 and 'id="steps"' in body(response)
    assert sequence.steps.get(position=0).subject == "Hi {{first_name}}"
    response = browser.post(f"/sequences/{sequence.pk}/steps/1/", {"wait": "3", "wait_unit": "days"}, **HTMX)
    assert sequence.steps.get(position=1).wait_hours == 72 and 'value="3"' in body(response)

    refused = browser.post(f"/sequences/{sequence.pk}/steps/0/", {"subject": "Hi {{nickname}}", "body": ""}, **HTMX)
    assert refused.status_code == 200
    assert refused["HX-Retarget"] == "#step-0" and refused["HX-Reswap"] == "outerHTML"
    text = body(refused)
    assert 'id="step-0"' in text and 'id="steps"' not in text and "An email step needs a body." in text
    assert 'value="Hi {{nickname}}"' in text  # what was typed stays
    assert sequence.steps.get(position=0).subject == "Hi {{first_name}}"
    refused = browser.post(f"/sequences/{sequence.pk}/steps/1/", {"wait": "0", "wait_unit": "hours"}, **HTMX)
    assert "Ensure this value is greater than or equal to 1." in body(refused)
    gone = browser.post(f"/sequences/{sequence.pk}/steps/9/", {"subject": "x", "body": "y"}, **HTMX)
    assert gone["HX-Reswap"] == "none"


def test_steps_are_reordered_and_removed_as_htmx_partials(browser, tenant, mailbox):
    sequence = make_sequence(
        tenant,
        mailbox,
        steps=[
            {"type": "email", "subject": "First", "body": "1"},
            {"type": "wait", "hours": 5},
            {"type": "email", "subject": "Second", "body": "2"},
        ],
    )
    response = browser.post(f"/sequences/{sequence.pk}/steps/2/move/", {"direction": "up"}, **HTMX)
    assert response.status_code == 200 and 'id="steps"' in body(response)
    assert [step.subject or step.kind for step in sequence.steps.order_by("position")] == ["First", "Second", "wait"]
    browser.post(f"/sequences/{sequence.pk}/steps/0/move/", {"direction": "down"}, **HTMX)
    browser.post(f"/sequences/{sequence.pk}/steps/0/move/", {"direction": "up"}, **HTMX)  # already first: nothing
    assert [step.subject or step.kind for step in sequence.steps.order_by("position")] == ["Second", "First", "wait"]
    response = browser.post(f"/sequences/{sequence.pk}/steps/1/delete/", **HTMX)
    assert response.status_code == 200 and body(response).count('data-testid="step"') == 2
    assert [step.subject or step.kind for step in sequence.steps.order_by("position")] == ["Second", "wait"]
    assert 'data-confirm="Remove step 1 (email)?"' in body(response)


def test_a_started_sequences_steps_can_be_edited_not_removed(browser, tenant, mailbox):
    sequence = make_sequence(
        tenant, mailbox, steps=[{"type": "email", "subject": "A", "body": "a"}, {"type": "wait", "hours": 24}]
    )
    sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})
    text = body(browser.get(f"/sequences/{sequence.pk}/"))
    assert "can be edited and new ones added at the end, not removed" in text
    assert 'data-testid="delete-step"' not in text and 'data-testid="move-up"' not in text
    assert 'data-testid="delete-sequence"' not in text  # pause first
    refused = browser.post(f"/sequences/{sequence.pk}/steps/1/delete/", **HTMX)
    assert refused["HX-Reswap"] == "none" and "This sequence has started" in body(refused)
    assert sequence.steps.count() == 2
    refused = browser.post(f"/sequences/{sequence.pk}/steps/0/move/", {"direction": "down"}, follow=True)
    assert "This sequence has started" in body(refused)
    edited = browser.post(f"/sequences/{sequence.pk}/steps/0/", {"subject": "B", "body": "b"}, **HTMX)
    assert edited.status_code == 200 and sequence.steps.get(position=0).subject == "B"
    browser.post(f"/sequences/{sequence.pk}/steps/", {"kind": "email"}, **HTMX)
    assert sequence.steps.count() == 3


def test_activate_pause_resume(browser, tenant, mailbox):
    empty = make_sequence(tenant, mailbox, steps=[], name="Empty")
    refused = browser.post(f"/sequences/{empty.pk}/status/", {"status": "active"}, follow=True)
    assert "Add at least one email step before starting the sequence." in body(refused)
    sequence = make_sequence(tenant, mailbox)
    assert 'data-testid="activate-sequence"' in body(browser.get(f"/sequences/{sequence.pk}/"))
    done = browser.post(f"/sequences/{sequence.pk}/status/", {"status": "active"}, follow=True)
    assert "Sequence activated" in body(done) and 'data-testid="pause-sequence"' in body(done)
    done = browser.post(f"/sequences/{sequence.pk}/status/", {"status": "paused", "back": "list"}, follow=True)
    assert done.redirect_chain[-1][0] == "/sequences/" and "Sequence paused" in body(done)
    done = browser.post(f"/sequences/{sequence.pk}/status/", {"status": "active"}, follow=True)
    assert "Sequence resumed" in body(done)
    assert Sequence.objects.get(pk=sequence.pk).status == "active"


def test_a_sequence_is_deleted_once_paused(browser, tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    response = browser.post(f"/sequences/{sequence.pk}/delete/", follow=True)
    assert "Sequence Intro deleted" in body(response) and not Sequence.objects.exists()


def test_the_preview_renders_an_email_for_a_chosen_lead(browser, tenant, mailbox):
    sequence = make_sequence(
        tenant,
        mailbox,
        steps=[
            {"type": "email", "subject": "Hi {{first_name|there}}", "body": "How is {{company_name}}?\nBye"},
            {"type": "wait", "hours": 24},
            {"type": "email", "subject": "Again {{first_name}}", "body": "Ping"},
        ],
    )
    ann = new_lead(tenant, "ann@initech.test", first_name="Ann", company_name="Initech")
    bob = new_lead(tenant, "bob@initech.test")
    builder = body(browser.get(f"/sequences/{sequence.pk}/"))
    assert "Choose a lead to see the email" in builder and "ann@initech.test" in builder

    response = browser.get(f"/sequences/{sequence.pk}/preview/", {"step": "0", "lead": ann.pk}, **HTMX)
    assert response.status_code == 200
    text = body(response)
    assert '<strong data-testid="preview-subject">Hi Ann</strong>' in text and "How is Initech?<br>Bye" in text
    assert "Every variable has a value" in text and "<html" not in text
    text = body(browser.get(f"/sequences/{sequence.pk}/preview/", {"step": "0", "lead": bob.pk}, **HTMX))
    assert "Hi there" in text and "No value and no fallback for <code>{{company_name}}</code>" in text
    text = body(browser.get(f"/sequences/{sequence.pk}/preview/", {"step": "2", "lead": bob.pk}, **HTMX))
    assert "Again " in text and "{{first_name}}" in text

    assert browser.get(f"/sequences/{sequence.pk}/preview/", {"lead": "999999"}, **HTMX).status_code == 404

    # Without JavaScript the preview form opens the builder with the choice made.
    response = browser.get(f"/sequences/{sequence.pk}/preview/", {"step": "0", "lead": ann.pk})
    assert response.status_code == 302
    assert "Hi Ann" in body(browser.get(response["Location"]))


def test_a_change_to_the_steps_brings_the_preview_along(browser, tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    ann = new_lead(tenant, "ann@initech.test", first_name="Ann")
    response = browser.post(
        f"/sequences/{sequence.pk}/steps/0/",
        {"subject": "Hello {{first_name}}", "body": "x", "step": "0", "lead": ann.pk},
        **HTMX,
    )
    text = body(response)
    assert 'id="steps"' in text and 'hx-swap-oob="true"' in text
    assert text.split('hx-swap-oob="true"')[1].count("Hello Ann") == 1


def test_leads_are_enrolled_from_the_builder_with_skip_reasons(browser, tenant, mailbox):
    sequence = make_sequence(tenant, mailbox, steps=[{"type": "email", "subject": "Hi {{first_name}}", "body": "x"}])
    ann = new_lead(tenant, "ann@initech.test", first_name="Ann")
    bob = new_lead(tenant, "bob@initech.test")
    response = browser.post(f"/sequences/{sequence.pk}/enroll/", {"lead_ids": [ann.pk, bob.pk]}, follow=True)
    assert response.redirect_chain[-1][0] == f"/sequences/{sequence.pk}/report/"
    assert "1 lead enrolled; 1 skipped (No value and no fallback for {{first_name}}.)." in body(response)
    assert Enrollment.objects.filter(sequence=sequence).count() == 1
    response = browser.post(f"/sequences/{sequence.pk}/enroll/", {"lead_ids": [ann.pk]}, follow=True)
    assert "0 leads enrolled; 1 skipped (already enrolled)." in body(response)
    response = browser.post(f"/sequences/{sequence.pk}/enroll/", {}, follow=True)
    assert "Choose at least one lead to enrol." in body(response)


# --- The report ---------------------------------------------------------------------------------------------------


def test_the_report_of_a_new_sequence_is_empty(browser, tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    page = browser.get(f"/sequences/{sequence.pk}/report/")
    assert page.status_code == 200
    text = body(page)
    assert "No enrolment" in text and "not tracked" in text and '<div class="value figure-big" data-testid="reply-rate">—' in text


def test_the_report_shows_stats_per_sequence_and_step(browser, tenant, mailbox):
    sequence = make_sequence(
        tenant,
        mailbox,
        steps=[
            {"type": "email", "subject": "One", "body": "1"},
            {"type": "wait", "hours": 1},
            {"type": "email", "subject": "Two", "body": "2"},
        ],
        track_opens=True,
    )
    leads = [new_lead(tenant, f"p{n}@initech.test") for n in range(3)]
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk for lead in leads])
    first, second = sequence.steps.filter(kind="email").order_by("position")
    rows = list(Enrollment.objects.filter(sequence=sequence).order_by("pk"))
    messages = [sent_message(sequence, enrollment, step=first, n=n) for n, enrollment in enumerate(rows)]
    sent_message(sequence, rows[0], step=second, n=9, replied_at=messages[0].claimed_at)
    message_clicked(message_pk=messages[1].pk)
    Enrollment.objects.filter(pk=rows[0].pk).update(status="replied", next_send_at=None)
    text = body(browser.get(f"/sequences/{sequence.pk}/report/"))
    assert 'data-testid="reply-rate">25%' in text and "1 replied of 4 sent" in text
    assert text.count('data-testid="stats-step"') == 2 and "unreliable" in text
    assert text.count('data-testid="enrollment-row"') == 3 and "p2@initech.test" in text
    stats = selectors.sequence_stats(sequence=sequence)
    assert (stats.sent, stats.clicked, stats.replied) == (4, 1, 1)


def test_the_enrolments_are_filtered_and_paginated(browser, tenant, mailbox, monkeypatch):
    from sequences import views

    monkeypatch.setattr(views, "ENROLLMENTS_PAGE_SIZE", 2)
    sequence = make_sequence(tenant, mailbox)
    leads = [new_lead(tenant, f"p{n}@initech.test") for n in range(5)]
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk for lead in leads])
    Enrollment.objects.filter(lead=leads[0]).update(status="stopped", next_send_at=None, stop_reason="Stopped by hand")
    page = body(browser.get(f"/sequences/{sequence.pk}/report/"))
    assert page.count('data-testid="enrollment-row"') == 2 and 'id="more-enrollments"' in page
    cursor = page.split("cursor=")[1].split('"')[0]
    more = browser.get(f"/sequences/{sequence.pk}/report/", {"cursor": cursor}, **HTMX)
    assert body(more).count('data-testid="enrollment-row"') == 2 and "<html" not in body(more)
    stopped = body(browser.get(f"/sequences/{sequence.pk}/report/", {"status": "stopped"}))
    assert stopped.count('data-testid="enrollment-row"') == 1 and "Stopped by hand" in stopped
    assert "No enrolment with that status" in body(browser.get(f"/sequences/{sequence.pk}/report/", {"status": "replied"}))
    assert browser.get(f"/sequences/{sequence.pk}/report/", {"cursor": "garbage"}).status_code == 302


def test_an_enrolment_is_stopped_from_the_report(browser, tenant, other_tenant, mailbox, mailbox_data):
    sequence = make_sequence(tenant, mailbox)
    lead = new_lead(tenant, "ann@initech.test")
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk])
    enrollment = Enrollment.objects.get(sequence=sequence)
    page = body(browser.get(f"/sequences/{sequence.pk}/report/"))
    assert 'data-confirm="Stop ann@initech.test?' in page
    response = browser.post(f"/sequences/{sequence.pk}/enrollments/{enrollment.pk}/stop/", follow=True)
    assert "ann@initech.test stopped" in body(response)
    enrollment.refresh_from_db()
    assert enrollment.status == "stopped" and enrollment.stop_reason == "Stopped by hand"
    # Another workspace's enrolment, through this workspace's sequence or theirs: not found.
    theirs = make_sequence(other_tenant, mailbox_create(workspace=other_tenant.workspace, data=mailbox_data))
    their_lead = new_lead(other_tenant, "bob@globex.test")
    enrollments_create(workspace=other_tenant.workspace, sequence_id=theirs.pk, lead_ids=[their_lead.pk])
    their_enrollment = Enrollment.objects.get(sequence=theirs)
    assert browser.post(f"/sequences/{sequence.pk}/enrollments/{their_enrollment.pk}/stop/").status_code == 404
    assert browser.post(f"/sequences/{theirs.pk}/enrollments/{their_enrollment.pk}/stop/").status_code == 404
    assert Enrollment.objects.get(pk=their_enrollment.pk).status == "active"


# --- Mailboxes ----------------------------------------------------------------------------------------------------


def mailbox_post(mailbox_data, **overrides) -> dict:
    data = {key: value for key, value in mailbox_data.items() if key != "warmup"}
    data.update(imap_security="tls", imap_host="", imap_port="", imap_username="", imap_password="")
    data.update(overrides)
    return data


def test_the_mailboxes_page_is_empty_then_lists_each_mailbox(browser, tenant, mailbox_data):
    text = body(browser.get("/sequences/mailboxes/"))
    assert "No mailbox yet" in text
    mailbox = mailbox_create(workspace=tenant.workspace, data=mailbox_data)
    Mailbox.objects.filter(pk=mailbox.pk).update(status="failing", last_error="535 Authentication failed")
    text = body(browser.get("/sequences/mailboxes/"))
    assert mailbox.email in text and "failing" in text and "535 Authentication failed" in text
    assert "Replies and bounces are not read: add IMAP" in text and "500/day · 100/hour" in text
    assert mailbox_data["smtp_password"] not in text


def test_the_connect_form_has_presets(browser):
    page = browser.get("/sequences/mailboxes/new/")
    assert page.status_code == 200 and "Gmail" in body(page) and "Outlook / Office 365" in body(page)
    gmail = body(browser.get("/sequences/mailboxes/new/", {"preset": "gmail"}))
    assert 'value="smtp.gmail.com"' in gmail and 'value="imap.gmail.com"' in gmail and "app password" in gmail
    outlook = body(browser.get("/sequences/mailboxes/new/", {"preset": "outlook"}))
    assert 'value="smtp.office365.com"' in outlook and 'value="outlook.office365.com"' in outlook


def test_a_mailbox_is_connected_after_its_server_answers(browser, tenant, smtp, mailbox_data):
    response = browser.post("/sequences/mailboxes/new/", mailbox_post(mailbox_data, smtp_username=""))
    assert response.status_code == 302 and response["Location"] == "/sequences/mailboxes/"
    mailbox = Mailbox.objects.get(workspace=tenant.workspace)
    assert mailbox.smtp_username == mailbox_data["email"] and mailbox.smtp_password != mailbox_data["smtp_password"]


def test_the_server_checks_message_shows_on_the_field_it_names(browser, tenant, smtp, mailbox_data):
    response = browser.post("/sequences/mailboxes/new/", mailbox_post(mailbox_data, smtp_password="wrong"))
    assert response.status_code == 200
    text = body(response)
    field = text.split('for="id_smtp_password"')[1].split('<div class="field">')[0]
    assert "refused the user name or password" in field
    response = browser.post("/sequences/mailboxes/new/", mailbox_post(mailbox_data, smtp_password=""))
    assert "Required." in body(response) or "This field is required." in body(response)
    assert not Mailbox.objects.exists()


def test_a_mailbox_is_edited_with_blank_passwords_kept(browser, tenant, mailbox, mailbox_data, smtp):
    page = browser.get(f"/sequences/mailboxes/{mailbox.pk}/")
    assert page.status_code == 200 and "Leave empty to keep the saved password" in body(page)
    assert mailbox_data["smtp_password"] not in body(page)
    saved_password = mailbox.smtp_password
    smtp.password = "changed-on-the-server"  # a limit change must not log in again: it would be refused now
    response = browser.post(f"/sequences/mailboxes/{mailbox.pk}/", mailbox_post(mailbox_data, smtp_password="", hourly_limit=7))
    assert response.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.hourly_limit == 7 and mailbox.smtp_password == saved_password
    refused = browser.post(f"/sequences/mailboxes/{mailbox.pk}/", mailbox_post(mailbox_data, smtp_password="wrong"))
    assert refused.status_code == 200 and "refused the user name or password" in body(refused)
    mailbox.refresh_from_db()
    assert mailbox.smtp_password == saved_password


def test_a_mailbox_is_deleted_unless_a_sequence_sends_from_it(browser, tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    response = browser.post(f"/sequences/mailboxes/{mailbox.pk}/delete/", HTTP_REFERER="http://testserver/sequences/mailboxes/")
    assert response.status_code == 302
    assert "Sequences send from this mailbox (Intro)" in body(browser.get("/sequences/mailboxes/"))
    sequence.delete()
    response = browser.post(f"/sequences/mailboxes/{mailbox.pk}/delete/", follow=True)
    assert "disconnected" in body(response) and not Mailbox.objects.exists()


def test_another_workspaces_mailbox_is_not_found(browser, other_tenant, mailbox_data):
    theirs = mailbox_create(workspace=other_tenant.workspace, data=mailbox_data)
    assert browser.get(f"/sequences/mailboxes/{theirs.pk}/").status_code == 404
    assert browser.post(f"/sequences/mailboxes/{theirs.pk}/", {"hourly_limit": 1}).status_code == 404
    assert browser.post(f"/sequences/mailboxes/{theirs.pk}/delete/").status_code == 404
    assert Mailbox.objects.filter(pk=theirs.pk).exists()


# --- The lead drawer ----------------------------------------------------------------------------------------------


def test_the_lead_drawer_loads_the_leads_sequence_timeline(browser, tenant, other_tenant, mailbox):
    lead = new_lead(tenant, "ann@initech.test", first_name="Ann")
    drawer = body(browser.get(f"/leads/{lead.pk}/", **HTMX))
    assert f'hx-get="/sequences/leads/{lead.pk}/timeline/"' in drawer
    assert "Not in any sequence." in body(browser.get(f"/sequences/leads/{lead.pk}/timeline/", **HTMX))
    sequence = make_sequence(tenant, mailbox)
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk])
    enrollment = Enrollment.objects.get(lead=lead)
    message_clicked(message_pk=sent_message(sequence, enrollment).pk)
    text = body(browser.get(f"/sequences/leads/{lead.pk}/timeline/", **HTMX))
    assert "Intro" in text and text.count('data-testid="lead-activity"') == 2
    assert "Enrolled" in text and "From My Leads" in text and "Clicked" in text
    their_lead = new_lead(other_tenant, "bob@globex.test")
    assert browser.get(f"/sequences/leads/{their_lead.pk}/timeline/", **HTMX).status_code == 404
    assert Step.objects.count() == 1
