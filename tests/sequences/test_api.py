"""The mailboxes and sequences API (docs/sequences.md): every route, status code and error code, tenancy and odd input."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership
from cursive import crypto
from leads.services import lead_create, suppressions_add
from sequences.models import Enrollment, Mailbox, Sequence
from sequences.services import enrollments_create, sequence_create

pytestmark = pytest.mark.django_db

EMAIL_STEP = {"type": "email", "subject": "Hi {{first_name|there}}", "body": "We help {{company_name|teams like yours}}."}


def make_sequence(tenant, mailbox, **extra) -> Sequence:
    data = {"name": "Intro", "mailbox_id": mailbox.pk, "steps": [EMAIL_STEP, {"type": "wait", "hours": 48}, EMAIL_STEP]}
    return sequence_create(workspace=tenant.workspace, data={**data, **extra})


def make_lead(tenant, email="ann@prospect.test", **data):
    return lead_create(workspace=tenant.workspace, data={"email": email, "first_name": "Ann", **data}, source="manual")


# --- Mailboxes -------------------------------------------------------------------------------------------------


def test_connecting_a_mailbox_tries_smtp_and_never_returns_passwords(tenant, mailbox_data, smtp):
    response = tenant.api().post("/api/v1/mailboxes", mailbox_data, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == smtp.username and body["smtp_port"] == smtp.port and body["smtp_security"] == "none"
    assert body["daily_limit"] == 500 and body["hourly_limit"] == 100 and body["min_gap_seconds"] == 0
    assert "smtp_password" not in body and "imap_password" not in body
    assert smtp.password not in response.content.decode()
    # Without IMAP, replies and bounces are not read, and the answer says so.
    assert body["reads_replies"] is False and "not read" in body["note"]
    stored = Mailbox.objects.get(pk=body["id"])
    assert stored.workspace == tenant.workspace and crypto.decrypt(stored.smtp_password) == smtp.password


def test_a_wrong_smtp_password_is_a_400_mailbox_unreachable_naming_the_field(tenant, mailbox_data):
    response = tenant.api().post("/api/v1/mailboxes", {**mailbox_data, "smtp_password": "wrong"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "mailbox_unreachable"
    assert "refused the user name or password" in error["message"]
    assert "smtp_password" in error["fields"]
    assert not Mailbox.objects.exists()


def test_an_unreachable_smtp_server_is_named(tenant, mailbox_data):
    from tests.servers import free_port

    response = tenant.api().post("/api/v1/mailboxes", {**mailbox_data, "smtp_port": free_port()}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "mailbox_unreachable"
    assert "smtp_host" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"smtp_host": None}, "smtp_host"),
        ({"smtp_port": 70000}, "smtp_port"),
        ({"smtp_port": "abc"}, "smtp_port"),
        ({"smtp_security": "ssl3"}, "smtp_security"),
        ({"email": "not an address"}, "email"),
        ({"daily_limit": 0}, "daily_limit"),
        ({"smtp_password": ""}, "smtp_password"),
    ],
)
def test_invalid_mailbox_fields_are_a_400_naming_them(tenant, mailbox_data, change, field):
    response = tenant.api().post("/api/v1/mailboxes", {**mailbox_data, **change}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert not Mailbox.objects.exists()


def test_a_mailbox_connected_twice_is_a_409(tenant, mailbox, mailbox_data):
    response = tenant.api().post("/api/v1/mailboxes", mailbox_data, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "mailbox_exists"


def test_list_get_patch_and_delete_a_mailbox(tenant, mailbox, smtp):
    api = tenant.api()
    listed = api.get("/api/v1/mailboxes")
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json()["results"]] == [mailbox.pk] and listed.json()["next"] is None
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in listed
    assert api.get(f"/api/v1/mailboxes/{mailbox.pk}").json()["email"] == smtp.username
    patched = api.patch(f"/api/v1/mailboxes/{mailbox.pk}", {"from_name": "Sam at Acme", "hourly_limit": 20}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["from_name"] == "Sam at Acme" and patched.json()["hourly_limit"] == 20
    # A new password is tried first: a wrong one changes nothing.
    refused = api.patch(f"/api/v1/mailboxes/{mailbox.pk}", {"smtp_password": "wrong"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "mailbox_unreachable"
    assert crypto.decrypt(Mailbox.objects.get(pk=mailbox.pk).smtp_password) == smtp.password
    assert api.patch(f"/api/v1/mailboxes/{mailbox.pk}", {"hourly_limit": -1}, format="json").status_code == 400
    assert api.delete(f"/api/v1/mailboxes/{mailbox.pk}").status_code == 204
    assert not Mailbox.objects.exists()
    assert api.get(f"/api/v1/mailboxes/{mailbox.pk}").status_code == 404


def test_a_mailbox_sequences_send_from_cannot_be_deleted(tenant, mailbox):
    make_sequence(tenant, mailbox)
    response = tenant.api().delete(f"/api/v1/mailboxes/{mailbox.pk}")
    assert response.status_code == 409 and response.json()["error"]["code"] == "mailbox_in_use"


def test_another_workspaces_mailbox_is_a_404(tenant, other_tenant, mailbox):
    api = other_tenant.api()
    for response in (
        api.get(f"/api/v1/mailboxes/{mailbox.pk}"),
        api.patch(f"/api/v1/mailboxes/{mailbox.pk}", {"from_name": "x"}, format="json"),
        api.delete(f"/api/v1/mailboxes/{mailbox.pk}"),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/mailboxes").json()["results"] == []
    # Nor can a sequence of theirs send from it.
    response = api.post("/api/v1/sequences", {"name": "Theirs", "mailbox_id": mailbox.pk, "steps": [EMAIL_STEP]}, format="json")
    assert response.status_code == 400 and "mailbox_id" in response.json()["error"]["fields"]
    assert Mailbox.objects.get(pk=mailbox.pk).from_name == "Sam Sender"


def test_members_list_mailboxes_but_only_managers_change_them(tenant, mailbox, mailbox_data):
    Membership.objects.filter(user=tenant.user).update(role=Membership.Role.MEMBER)
    api = tenant.api()
    assert api.get("/api/v1/mailboxes").status_code == 200
    assert api.post("/api/v1/mailboxes", mailbox_data, format="json").status_code == 403
    assert api.delete(f"/api/v1/mailboxes/{mailbox.pk}").status_code == 403


def test_without_credentials_every_route_is_a_401():
    client = APIClient()
    for path in ("/api/v1/mailboxes", "/api/v1/mailboxes/1", "/api/v1/sequences", "/api/v1/sequences/1/enrollments"):
        response = client.get(path)
        assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


# --- Sequences -------------------------------------------------------------------------------------------------


def test_creating_a_sequence_answers_draft_with_its_steps(tenant, mailbox):
    steps = [
        EMAIL_STEP,
        {"type": "wait", "hours": 48},
        {"type": "condition", "condition": "visited", "path": "/pricing", "if_not_met": "stop"},
        {"type": "wait", "days": 2},
        {"type": "email", "subject": "Again", "body": "Still there, {{first_name|friend}}?"},
    ]
    response = tenant.api().post(
        "/api/v1/sequences",
        {"name": "Intro", "mailbox_id": mailbox.pk, "steps": steps, "stop_on_reply": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "name", "status", "steps"} <= set(body)
    assert body["status"] == "draft" and body["name"] == "Intro" and body["mailbox_id"] == mailbox.pk
    assert [{k: v for k, v in step.items() if k not in ("id", "position")} for step in body["steps"]] == [
        EMAIL_STEP,
        {"type": "wait", "hours": 48},
        {"type": "condition", "condition": "visited", "path": "/pricing", "if_met": "continue", "if_not_met": "stop"},
        {"type": "wait", "hours": 48},
        {"type": "email", "subject": "Again", "body": "Still there, {{first_name|friend}}?"},
    ]
    assert [step["position"] for step in body["steps"]] == [0, 1, 2, 3, 4]
    # The default send window: Monday to Friday, 08:00-18:00.
    assert body["send_window"] == {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}
    assert body["track_opens"] is False and body["stats"]["opened_unreliable"] is False
    assert Sequence.objects.get(pk=body["id"]).workspace == tenant.workspace


def test_a_send_window_and_website_rules_are_kept(tenant, mailbox):
    response = tenant.api().post(
        "/api/v1/sequences",
        {
            "name": "Visitors",
            "mailbox_id": mailbox.pk,
            "steps": [EMAIL_STEP],
            "send_window": {"days": ["sat", "mon"], "start": "09:30", "end": "17:00"},
            "website_enabled": True,
            "website_min_score": 60,
            "website_path_contains": "/pricing",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["send_window"] == {"days": ["mon", "sat"], "start": "09:30", "end": "17:00"}
    assert (body["website_enabled"], body["website_min_score"], body["website_path_contains"]) == (True, 60, "/pricing")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"mailbox_id": None}, "mailbox_id"),
        ({"mailbox_id": 999999}, "mailbox_id"),
        ({"steps": [{"type": "sms"}]}, "steps"),
        ({"steps": [{"type": "email", "subject": "", "body": "x"}]}, "steps"),
        ({"steps": [{"type": "email", "subject": "{{shoe_size}}", "body": "x"}]}, "steps"),
        ({"steps": [{"type": "wait", "hours": 0}]}, "steps"),
        ({"steps": [{"type": "wait"}]}, "steps"),
        ({"steps": [{"type": "condition", "condition": "visited"}]}, "steps"),
        ({"steps": "email"}, "steps"),
        ({"steps": [EMAIL_STEP] * 21}, "steps"),
        ({"send_window": {"days": ["someday"], "start": "08:00", "end": "18:00"}}, "send_window"),
        ({"send_window": {"days": ["mon"], "start": "18:00", "end": "08:00"}}, "send_window"),
        ({"send_window": {"days": ["mon"], "start": "25:00", "end": "26:00"}}, "send_window"),
        ({"stop_on_reply": "maybe"}, "stop_on_reply"),
        ({"website_min_score": 101}, "website_min_score"),
        ({"segment_id": 999999}, "segment_id"),
    ],
)
def test_invalid_sequences_are_a_400_naming_the_field(tenant, mailbox, change, field):
    data = {"name": "Intro", "mailbox_id": mailbox.pk, "steps": [EMAIL_STEP], **change}
    response = tenant.api().post("/api/v1/sequences", data, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"], error
    assert not Sequence.objects.exists()


@pytest.mark.parametrize("body", [[], "text", 7, None, {"name": ["x"], "mailbox_id": {"a": 1}}, {"steps": [None, 3]}])
def test_odd_bodies_are_a_400_never_a_500(tenant, mailbox, body):
    api = tenant.api()
    for path in ("/api/v1/sequences", "/api/v1/mailboxes"):
        response = api.post(path, body, format="json")
        assert response.status_code == 400, (path, response.content)
        assert response.json()["error"]["code"] in ("validation_error", "invalid_json")


def test_get_a_sequence_with_its_stats(tenant, mailbox):
    sequence = make_sequence(tenant, mailbox, track_opens=True)
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[make_lead(tenant).pk])
    response = tenant.api().get(f"/api/v1/sequences/{sequence.pk}")
    assert response.status_code == 200
    stats = response.json()["stats"]
    assert {"enrolled", "sent", "opened", "clicked", "replied", "bounced", "unsubscribed", "completed"} <= set(stats)
    assert stats["enrolled"] == 1 and stats["sent"] == 0
    assert stats["reply_rate"] is None  # nothing sent yet
    assert stats["opened_unreliable"] is True


def test_list_sequences_newest_first_with_a_cursor(tenant, mailbox, django_assert_max_num_queries):
    made = [make_sequence(tenant, mailbox, name=f"S{n}") for n in range(3)]
    api = tenant.api()
    with django_assert_max_num_queries(12):
        first = api.get("/api/v1/sequences?limit=2").json()
    assert [s["id"] for s in first["results"]] == [made[2].pk, made[1].pk]
    assert len(first["results"][0]["steps"]) == 3
    second = api.get(f"/api/v1/sequences?limit=2&cursor={first['next']}").json()
    assert [s["id"] for s in second["results"]] == [made[0].pk] and second["next"] is None


def test_patch_starts_and_pauses_a_sequence(tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    api = tenant.api()
    started = api.patch(f"/api/v1/sequences/{sequence.pk}", {"status": "active"}, format="json")
    assert started.status_code == 200 and started.json()["status"] == "active"
    assert started.json()["activated_at"] is not None
    paused = api.patch(f"/api/v1/sequences/{sequence.pk}", {"status": "paused", "name": "Intro v2"}, format="json")
    assert paused.json()["status"] == "paused" and paused.json()["name"] == "Intro v2"
    bad = api.patch(f"/api/v1/sequences/{sequence.pk}", {"status": "draft"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_a_sequence_without_an_email_cannot_start(tenant, mailbox):
    sequence = make_sequence(tenant, mailbox, steps=[{"type": "wait", "hours": 1}])
    response = tenant.api().patch(f"/api/v1/sequences/{sequence.pk}", {"status": "active"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "sequence_empty"


def test_steps_of_a_started_sequence_can_be_edited_but_not_removed(tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    api = tenant.api()
    api.patch(f"/api/v1/sequences/{sequence.pk}", {"status": "active"}, format="json")
    removed = api.patch(f"/api/v1/sequences/{sequence.pk}", {"steps": [EMAIL_STEP]}, format="json")
    assert removed.status_code == 409 and removed.json()["error"]["code"] == "sequence_started"
    edited_step = {"type": "email", "subject": "New subject", "body": "New body"}
    edited = api.patch(
        f"/api/v1/sequences/{sequence.pk}",
        {"steps": [edited_step, {"type": "wait", "hours": 24}, EMAIL_STEP, EMAIL_STEP]},
        format="json",
    )
    assert edited.status_code == 200, edited.content
    steps = edited.json()["steps"]
    assert steps[0]["subject"] == "New subject" and steps[1]["hours"] == 24 and len(steps) == 4


def test_draft_steps_are_replaced_as_a_whole(tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    response = tenant.api().patch(f"/api/v1/sequences/{sequence.pk}", {"steps": [EMAIL_STEP]}, format="json")
    assert response.status_code == 200 and len(response.json()["steps"]) == 1


def test_an_active_sequence_is_paused_before_it_is_deleted(tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    api = tenant.api()
    api.patch(f"/api/v1/sequences/{sequence.pk}", {"status": "active"}, format="json")
    refused = api.delete(f"/api/v1/sequences/{sequence.pk}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "sequence_active"
    api.patch(f"/api/v1/sequences/{sequence.pk}", {"status": "paused"}, format="json")
    assert api.delete(f"/api/v1/sequences/{sequence.pk}").status_code == 204
    assert api.get(f"/api/v1/sequences/{sequence.pk}").status_code == 404


def test_another_workspaces_sequence_is_a_404_everywhere(tenant, other_tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    theirs = make_lead(other_tenant, email="theirs@globex.test")
    api = other_tenant.api()
    base = f"/api/v1/sequences/{sequence.pk}"
    for response in (
        api.get(base),
        api.patch(base, {"status": "active"}, format="json"),
        api.delete(base),
        api.get(f"{base}/enrollments"),
        api.post(f"{base}/enrollments", {"lead_ids": [theirs.pk]}, format="json"),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/sequences").json()["results"] == []
    assert Sequence.objects.get(pk=sequence.pk).status == "draft" and not Enrollment.objects.exists()


# --- Enrolments ------------------------------------------------------------------------------------------------


def test_enrol_leads_with_the_reasons_of_those_skipped(tenant, other_tenant, mailbox):
    sequence = make_sequence(tenant, mailbox, steps=[{"type": "email", "subject": "Hi {{first_name}}", "body": "Hello"}])
    ok = make_lead(tenant, email="ok@prospect.test")
    nameless = lead_create(workspace=tenant.workspace, data={"email": "nameless@prospect.test"}, source="manual")
    phone_only = lead_create(workspace=tenant.workspace, data={"phone": "+12125550100", "first_name": "P"}, source="manual")
    gone = make_lead(tenant, email="gone@prospect.test")
    suppressions_add(workspace=tenant.workspace, emails=["gone@prospect.test"], reason="manual")
    theirs = make_lead(other_tenant, email="theirs@globex.test")
    api = tenant.api()
    path = f"/api/v1/sequences/{sequence.pk}/enrollments"
    ids = [ok.pk, nameless.pk, phone_only.pk, gone.pk, theirs.pk]
    response = api.post(path, {"lead_ids": ids}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["enrolled"] == 1
    reasons = {item["lead_id"]: item["reason"] for item in body["skipped"]}
    assert reasons == {
        nameless.pk: "missing_variable",
        phone_only.pk: "no_email",
        gone.pk: "suppressed",
        theirs.pk: "not_found",
    }
    again = api.post(path, {"lead_ids": [ok.pk]}, format="json").json()
    assert again == {"enrolled": 0, "skipped": [{"lead_id": ok.pk, "reason": "already_enrolled"}]}
    enrollment = Enrollment.objects.get()
    assert enrollment.source == "api" and enrollment.lead_id == ok.pk


@pytest.mark.parametrize("lead_ids", [[], [0], ["a"], [1.5], None, "1,2", list(range(1, 1002))])
def test_invalid_lead_ids_are_a_400(tenant, mailbox, lead_ids):
    sequence = make_sequence(tenant, mailbox)
    response = tenant.api().post(f"/api/v1/sequences/{sequence.pk}/enrollments", {"lead_ids": lead_ids}, format="json")
    assert response.status_code == 400, response.content
    assert "lead_ids" in response.json()["error"]["fields"]


def test_list_enrolments_with_a_status_filter(tenant, mailbox):
    sequence = make_sequence(tenant, mailbox)
    leads = [make_lead(tenant, email=f"p{n}@prospect.test") for n in range(3)]
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk for lead in leads])
    from sequences.services import enrollment_stop

    stopped = Enrollment.objects.get(lead=leads[0])
    enrollment_stop(workspace=tenant.workspace, enrollment_id=stopped.pk)
    api = tenant.api()
    path = f"/api/v1/sequences/{sequence.pk}/enrollments"
    listed = api.get(path).json()
    assert len(listed["results"]) == 3 and listed["next"] is None
    row = next(item for item in listed["results"] if item["lead_id"] == leads[1].pk)
    assert {"id", "lead_id", "status", "current_step", "next_send_at"} <= set(row)
    assert row["status"] == "active" and row["current_step"] == 0 and row["next_send_at"] is not None
    only_stopped = api.get(f"{path}?status=stopped").json()["results"]
    assert [item["lead_id"] for item in only_stopped] == [leads[0].pk]
    assert only_stopped[0]["next_send_at"] is None
    assert api.get(f"{path}?status=lost").status_code == 400
    page = api.get(f"{path}?limit=2").json()
    assert len(page["results"]) == 2 and page["next"]
