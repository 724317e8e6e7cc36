"""Bulk enrolment (services.enrollments_create_many): any number of leads in chunks, skips counted by reason."""

from __future__ import annotations

import pytest
from django_q.models import OrmQ

from cursive.errors import NotFound, ValidationFailed
from leads.models import Lead
from leads.services import lead_create, leads_bulk_update, suppressions_add
from sequences import services, templating
from sequences.models import Activity, Enrollment
from sequences.services import enrollments_create, enrollments_create_many, sequence_create, sequence_update

pytestmark = pytest.mark.django_db


def make(tenant, email="", **data) -> Lead:
    return lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": email, **data})


@pytest.fixture
def sequence(tenant, mailbox):
    return sequence_create(
        workspace=tenant.workspace,
        data={
            "name": "Intro",
            "mailbox_id": mailbox.pk,
            "steps": [{"type": "email", "subject": "Hi {{first_name}}", "body": "At {{company_name|your team}}"}],
        },
    )


@pytest.fixture
def small_chunks(monkeypatch):
    # Chunk boundaries fall between the leads of these tests, as they do every 5,000 leads in real use.
    monkeypatch.setattr(services, "ENROL_CHUNK", 2)


def test_every_skip_reason_is_counted_across_chunks(tenant, other_tenant, sequence, small_chunks):
    ok = [make(tenant, f"ok{n}@prospect.test", first_name=f"Ann{n}") for n in range(3)]
    nameless = make(tenant, "nameless@prospect.test")
    phone_only = make(tenant, phone="+12125550100", first_name="Pat")
    invalid = make(tenant, "bad@prospect.test", first_name="Bo")
    leads_bulk_update(workspace=tenant.workspace, action="reject", lead_ids=[invalid.pk])
    gone = make(tenant, "gone@prospect.test", first_name="Gil")
    suppressions_add(workspace=tenant.workspace, emails=["GONE@prospect.test"], reason="manual")
    before = make(tenant, "before@prospect.test", first_name="Bea")
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[before.pk])
    theirs = make(other_tenant, "theirs@globex.test", first_name="Tom")
    ids = [*(lead.pk for lead in ok), nameless.pk, phone_only.pk, invalid.pk, gone.pk, before.pk, theirs.pk, ok[0].pk]

    result = enrollments_create_many(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids_or_queryset=ids)

    assert result.enrolled == 3
    assert result.skipped == {
        "missing_variable": 1,
        "no_email": 1,
        "invalid_email": 1,
        "suppressed": 1,
        "already_enrolled": 1,
        "not_found": 1,
    }
    enrolled = Enrollment.objects.filter(sequence=sequence).exclude(lead=before)
    assert sorted(enrolled.values_list("lead_id", flat=True)) == sorted(lead.pk for lead in ok)
    assert Activity.objects.filter(enrollment__in=enrolled, kind="enrolled").count() == 3


def test_a_queryset_enrols_only_this_workspaces_leads(tenant, other_tenant, sequence, small_chunks):
    saas = [make(tenant, f"s{n}@prospect.test", first_name="Sam", industry="SaaS") for n in range(5)]
    make(tenant, "retail@prospect.test", first_name="Rae", industry="Retail")
    make(other_tenant, "theirs@globex.test", first_name="Tom", industry="SaaS")

    result = enrollments_create_many(
        workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids_or_queryset=Lead.objects.filter(industry="SaaS")
    )

    assert result.enrolled == 5 and result.skipped == {}
    assert set(Enrollment.objects.values_list("lead_id", flat=True)) == {lead.pk for lead in saas}
    again = enrollments_create_many(
        workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids_or_queryset=Lead.objects.filter(industry="SaaS")
    )
    assert again.enrolled == 0 and again.skipped == {"already_enrolled": 5}


def test_another_workspaces_sequence_or_bad_ids_are_refused(tenant, other_tenant, sequence):
    lead = make(tenant, "a@prospect.test", first_name="Ann")
    with pytest.raises(NotFound):
        enrollments_create_many(workspace=other_tenant.workspace, sequence_id=sequence.pk, lead_ids_or_queryset=[lead.pk])
    with pytest.raises(ValidationFailed):
        enrollments_create_many(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids_or_queryset=["1"])
    with pytest.raises(ValidationFailed):
        enrollments_create_many(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids_or_queryset=[])
    assert not Enrollment.objects.exists()


@pytest.mark.parametrize(
    ("texts", "lead", "missing"),
    [
        (["Hi {{first_name}}", "{{company_name|your team}}"], {"first_name": " ", "company_name": ""}, ["first_name"]),
        (["{{full_name}}"], {"first_name": "", "last_name": "Li"}, []),
        (["{{full_name}}"], {"first_name": "", "last_name": ""}, ["full_name"]),
        # A fallback in one place does not cover the same variable used without one elsewhere.
        (["{{title|there}}", "{{ title }}"], {"title": ""}, ["title"]),
        (["{{title|there}}"], {"title": ""}, []),
    ],
)
def test_the_pre_flight_parses_templates_once_and_agrees_with_missing_variables(texts, lead, missing):
    values = {field: lead.get(field, "") for field in templating.VARIABLES}
    row = type("Row", (), values)
    required = templating.required_variables(texts)
    assert templating.missing_required(required, row) == missing
    assert templating.missing_variables(texts, templating.lead_values(row)) == missing


def test_a_bulk_enrolment_into_an_active_sequence_wakes_the_senders_once(
    tenant, sequence, small_chunks, django_capture_on_commit_callbacks
):
    sequence_update(workspace=tenant.workspace, sequence_id=sequence.pk, data={"status": "active"})
    leads = [make(tenant, f"w{n}@prospect.test", first_name="Wes") for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        enrollments_create_many(
            workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids_or_queryset=[lead.pk for lead in leads]
        )
    assert sum(1 for task in OrmQ.objects.all() if task.func() == "sequences.tasks.send_loop") == 1
