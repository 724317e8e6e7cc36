"""The "Possible duplicates" page of My Leads and the staff page in admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cursive.models import AuditEvent
from leads.duplicates import duplicates_scan
from leads.models import DuplicatePair, Lead
from leads.services import lead_create

pytestmark = pytest.mark.django_db


def two_alike(tenant):
    data = {"last_name": "Fischer", "company_name": "Vandelay Industries", "company_domain": "vandelay.com"}
    robert = lead_create(
        workspace=tenant.workspace, source="manual", data={**data, "first_name": "Robert", "email": "rob@vandelay.com"}
    )
    bob = lead_create(
        workspace=tenant.workspace,
        source="manual",
        data={**data, "first_name": "Bob", "email": "bob@vandelay.com", "title": "CFO"},
    )
    duplicates_scan(kind="lead", workspace=tenant.workspace)
    return robert, bob, DuplicatePair.objects.get(workspace=tenant.workspace)


def test_my_leads_links_to_possible_duplicates_only_when_there_are_some(tenant, client):
    client = tenant.browser_client(client)
    assert b'data-testid="duplicates-link"' not in client.get(reverse("leads:list")).content

    two_alike(tenant)

    page = client.get(reverse("leads:list")).content.decode()
    assert 'data-testid="duplicates-link"' in page and "1 possible duplicate<" in page


def test_the_page_shows_both_leads_side_by_side_with_the_differences_marked(tenant, client, django_assert_max_num_queries):
    robert, bob, pair = two_alike(tenant)
    client = tenant.browser_client(client)

    with django_assert_max_num_queries(12):
        page = client.get(reverse("leads:duplicates")).content.decode()

    assert page.count('data-testid="duplicate-pair"') == 1
    assert "rob@vandelay.com" in page and "bob@vandelay.com" in page and "100% alike" in page
    # First name, email and title differ; the company does not.
    assert page.count('data-testid="differs"') == 3
    assert 'name="viewport"' in page and "table-wrap" in page  # the table scrolls sideways on a phone


def test_the_empty_state(tenant, client):
    page = tenant.browser_client(client).get(reverse("leads:duplicates")).content.decode()
    assert 'data-testid="no-duplicates"' in page


def test_a_workspace_merges_its_own_pair_from_the_page(tenant, client):
    robert, bob, pair = two_alike(tenant)
    client = tenant.browser_client(client)

    response = client.post(reverse("leads:duplicate_merge", args=[pair.pk]), {"keep_id": robert.pk}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("leads:duplicates")
    assert list(Lead.objects.filter(workspace=tenant.workspace).values_list("pk", "title")) == [(robert.pk, "CFO")]
    assert 'data-testid="no-duplicates"' in response.content.decode()
    assert AuditEvent.objects.get(action="lead.merge").workspace == tenant.workspace


def test_a_merge_with_a_record_outside_the_pair_is_refused(tenant, client):
    robert, bob, pair = two_alike(tenant)
    stranger = lead_create(workspace=tenant.workspace, source="manual", data={"email": "someone@else.example"})

    response = tenant.browser_client(client).post(
        reverse("leads:duplicate_merge", args=[pair.pk]), {"keep_id": stranger.pk}, follow=True
    )

    assert "Choose which of the two to keep." in response.content.decode()
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 3


def test_dismissing_keeps_both_and_the_pair_is_not_proposed_again(tenant, client):
    robert, bob, pair = two_alike(tenant)
    client = tenant.browser_client(client)

    client.post(reverse("leads:duplicate_dismiss", args=[pair.pk]))
    duplicates_scan(kind="lead", workspace=tenant.workspace)

    assert Lead.objects.filter(workspace=tenant.workspace).count() == 2
    assert 'data-testid="no-duplicates"' in client.get(reverse("leads:duplicates")).content.decode()


def test_asking_for_a_scan_queues_one_for_the_workspace(tenant, client):
    from cursive.models import Job

    tenant.browser_client(client).post(reverse("leads:duplicate_scan"))

    job = Job.objects.get(func="leads.tasks.scan_workspace_duplicates")
    assert job.kwargs == {"workspace_id": tenant.workspace.pk}


def test_another_workspaces_pair_is_a_404(tenant, other_tenant, client):
    _, _, pair = two_alike(other_tenant)
    client = tenant.browser_client(client)

    assert client.post(reverse("leads:duplicate_merge", args=[pair.pk]), {"keep_id": pair.low_id}).status_code == 404
    assert client.post(reverse("leads:duplicate_dismiss", args=[pair.pk])).status_code == 404
    assert Lead.objects.filter(workspace=other_tenant.workspace).count() == 2


@pytest.fixture
def staff_client(client):
    from accounts.services import user_create

    user = user_create(email="staff@cursive.test", password="a-good-staff-pass-1")
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(user)
    return client


def two_alike_people():
    from .test_duplicates import make_person

    keep = make_person("Robert", "Fischer", "Vandelay", "vandelay.com", email="rob@vandelay.com", title="")
    other = make_person("Bob", "Fischer", "Vandelay", "vandelay.com", email="bob@vandelay.com", email_verified=True, title="CFO")
    duplicates_scan(kind="person")
    return keep, other, DuplicatePair.objects.get(kind="person")


def test_staff_see_the_lead_databases_pairs_side_by_side_from_the_admin_index(staff_client):
    two_alike_people()

    index = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:leads_duplicatepair_changelist") in index
    page = staff_client.get(reverse("admin:leads_duplicatepair_changelist")).content.decode()

    assert page.count('data-testid="duplicate-pair"') == 1
    assert "rob@vandelay.com" in page and "bob@vandelay.com" in page and "100% alike" in page
    assert page.count('data-testid="differs"') == 4  # first name, email, verified, title


def test_staff_merge_after_a_confirmation_page_keeping_the_record_they_chose(staff_client):
    from leads.models import Person

    keep, other, pair = two_alike_people()
    url = reverse("admin:leads_duplicatepair_merge", args=[pair.pk])

    confirm = staff_client.get(f"{url}?keep={keep.pk}").content.decode()
    assert 'data-testid="confirm-merge"' in confirm and Person.objects.count() == 2
    staff_client.post(url, {"keep_id": keep.pk})

    kept = Person.objects.get()
    assert kept.pk == keep.pk and (kept.email, kept.email_verified, kept.title) == ("bob@vandelay.com", True, "CFO")
    assert AuditEvent.objects.get(action="person.merge").actor.email == "staff@cursive.test"


def test_staff_dismiss_a_pair(staff_client):
    _, _, pair = two_alike_people()

    staff_client.post(reverse("admin:leads_duplicatepair_dismiss", args=[pair.pk]))

    pair.refresh_from_db()
    assert pair.status == DuplicatePair.Status.DISMISSED
    assert (
        'data-testid="duplicate-pair"' not in staff_client.get(reverse("admin:leads_duplicatepair_changelist")).content.decode()
    )


def test_the_staff_page_is_for_staff_only(tenant, client):
    response = tenant.browser_client(client).get(reverse("admin:leads_duplicatepair_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]
