import pytest

from accounts.models import Membership, Workspace
from accounts.services import user_create, workspace_time_zone_set
from cursive.errors import PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db


def test_a_new_workspace_is_on_new_york_time_and_a_manager_can_change_it(tenant):
    assert tenant.workspace.time_zone == "America/New_York"
    workspace_time_zone_set(workspace=tenant.workspace, actor=tenant.user, time_zone="Europe/Berlin")
    assert Workspace.objects.get(pk=tenant.workspace.pk).time_zone == "Europe/Berlin"


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "europe/berlin", "../etc/passwd"])
def test_only_known_time_zones_are_accepted(tenant, name):
    with pytest.raises(ValidationFailed) as caught:
        workspace_time_zone_set(workspace=tenant.workspace, actor=tenant.user, time_zone=name)
    assert caught.value.fields == {"time_zone": ["Unknown time zone."]}
    assert Workspace.objects.get(pk=tenant.workspace.pk).time_zone == "America/New_York"


def test_members_cannot_change_the_time_zone(tenant):
    member = user_create(email="member@acme.test", password="member-pass-123")
    Membership.objects.create(user=member, workspace=tenant.workspace, role=Membership.Role.MEMBER)
    with pytest.raises(PermissionDenied):
        workspace_time_zone_set(workspace=tenant.workspace, actor=member, time_zone="Europe/Berlin")


def test_the_settings_page_shows_the_zone_and_saves_a_new_one(client, tenant):
    client.force_login(tenant.user)
    page = client.get("/settings/").content.decode()
    assert '<option value="America/New_York" selected>America/New York</option>' in page
    response = client.post("/settings/time-zone/", {"time_zone": "America/Los_Angeles"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert '<option value="America/Los_Angeles" selected>' in response.content.decode()
    assert 'id="webhooks"' not in response.content.decode()  # only the workspace card comes back
    assert Workspace.objects.get(pk=tenant.workspace.pk).time_zone == "America/Los_Angeles"


def test_the_settings_page_refuses_an_unknown_zone_without_javascript(client, tenant):
    client.force_login(tenant.user)
    response = client.post("/settings/time-zone/", {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Workspace.objects.get(pk=tenant.workspace.pk).time_zone == "America/New_York"


def test_members_see_the_zone_but_cannot_post_it(client, tenant):
    member = user_create(email="member@acme.test", password="member-pass-123")
    Membership.objects.create(user=member, workspace=tenant.workspace, role=Membership.Role.MEMBER)
    client.force_login(member)
    assert 'data-testid="workspace-time-zone">America/New_York<' in client.get("/settings/").content.decode()
    assert client.post("/settings/time-zone/", {"time_zone": "Europe/Berlin"}).status_code == 403
