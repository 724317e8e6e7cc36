"""A member's API keys live only as long as their membership: removed or gone, their keys stop working."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership
from accounts.services import (
    api_key_create,
    invitation_accept,
    invitation_create,
    membership_leave,
    membership_remove,
    user_create,
)
from credits.models import CreditPackage
from cursive.errors import Conflict
from cursive.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


class Member:
    def __init__(self, tenant, email: str, role: str, capture):
        with capture(execute=True):
            invitation_create(workspace=tenant.workspace, email=email, role=role, invited_by=tenant.user)
        token = mail.outbox[-1].body.split("/invitations/")[1].split("/")[0]
        self.user = user_create(email=email, password=PASSWORD)
        self.membership = invitation_accept(raw_token=token, user=self.user)
        self.api_key, self.raw_key = api_key_create(workspace=tenant.workspace, name=f"{email} key", created_by=self.user)

    def api(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.raw_key}")
        return client


@pytest.fixture
def admin_member(tenant, django_capture_on_commit_callbacks):
    return Member(tenant, "ria@acme.test", Membership.Role.ADMIN, django_capture_on_commit_callbacks)


@pytest.fixture
def other_admin(tenant, django_capture_on_commit_callbacks):
    return Member(tenant, "sam@acme.test", Membership.Role.ADMIN, django_capture_on_commit_callbacks)


def _checkout_status(api: APIClient) -> int:
    package = CreditPackage.objects.filter(active=True).order_by("pk").first()
    return api.post("/api/v1/credits/checkout", {"package": package.pk}, format="json").status_code


def test_a_removed_members_keys_stop_working(tenant, admin_member, other_admin):
    assert admin_member.api().get("/api/v1/me").status_code == 200
    membership_remove(workspace=tenant.workspace, membership_id=admin_member.membership.pk, actor=tenant.user)
    assert admin_member.api().get("/api/v1/me").status_code == 401
    assert _checkout_status(admin_member.api()) == 401
    admin_member.api_key.refresh_from_db()
    assert not admin_member.api_key.is_active
    assert other_admin.api().get("/api/v1/me").status_code == 200
    assert _checkout_status(other_admin.api()) == 201
    assert tenant.api().get("/api/v1/me").status_code == 200


def test_a_demoted_admins_key_acts_with_their_role_today(tenant, admin_member):
    assert _checkout_status(admin_member.api()) == 201
    # Staff change the role in the admin; the key made while an admin must not keep an admin's powers.
    Membership.objects.filter(pk=admin_member.membership.pk).update(role=Membership.Role.MEMBER)
    assert admin_member.api().get("/api/v1/me").status_code == 200
    assert _checkout_status(admin_member.api()) == 403
    assert _checkout_status(tenant.api()) == 201


def test_a_deleted_users_keys_do_not_become_owner_keys(tenant, admin_member):
    # Staff delete the user in the admin: the key loses its creator, which is how a command-line key looks.
    admin_member.user.delete()
    assert admin_member.api().get("/api/v1/me").status_code == 401
    admin_member.api_key.refresh_from_db()
    assert not admin_member.api_key.is_active
    assert AuditEvent.objects.filter(action="accounts.user_delete_key_revoke", workspace=tenant.workspace).exists()
    assert tenant.api().get("/api/v1/me").status_code == 200


def test_removal_is_audited_with_the_keys_it_revoked(tenant, admin_member):
    membership_remove(workspace=tenant.workspace, membership_id=admin_member.membership.pk, actor=tenant.user)
    event = AuditEvent.objects.get(action="accounts.member_remove")
    assert event.actor == tenant.user
    assert event.workspace == tenant.workspace
    assert event.target == f"user:{admin_member.user.pk}"
    assert event.data["revoked_api_keys"] == [admin_member.api_key.prefix]


def test_a_member_who_leaves_loses_their_keys(tenant, admin_member, other_admin):
    membership_leave(workspace=tenant.workspace, user=admin_member.user)
    assert not Membership.objects.filter(pk=admin_member.membership.pk).exists()
    assert admin_member.api().get("/api/v1/me").status_code == 401
    assert _checkout_status(admin_member.api()) == 401
    admin_member.api_key.refresh_from_db()
    assert not admin_member.api_key.is_active
    event = AuditEvent.objects.get(action="accounts.member_leave")
    assert event.actor == admin_member.user and event.data["revoked_api_keys"] == [admin_member.api_key.prefix]
    assert other_admin.api().get("/api/v1/me").status_code == 200


def test_the_last_owner_cannot_leave(tenant):
    with pytest.raises(Conflict):
        membership_leave(workspace=tenant.workspace, user=tenant.user)
    assert tenant.api().get("/api/v1/me").status_code == 200


def test_keys_of_the_same_person_in_another_workspace_keep_working(
    tenant, other_tenant, admin_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(
            workspace=other_tenant.workspace, email=admin_member.user.email, role="admin", invited_by=other_tenant.user
        )
    token = mail.outbox[-1].body.split("/invitations/")[1].split("/")[0]
    invitation_accept(raw_token=token, user=admin_member.user)
    _, elsewhere = api_key_create(workspace=other_tenant.workspace, name="elsewhere", created_by=admin_member.user)
    membership_remove(workspace=tenant.workspace, membership_id=admin_member.membership.pk, actor=tenant.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {elsewhere}")
    assert client.get("/api/v1/me").json()["workspace"]["id"] == other_tenant.workspace.pk


def test_a_key_whose_creator_is_no_longer_a_member_is_refused(tenant, admin_member):
    """Bound to a live membership: a membership ended by any other path (staff in the admin) ends the key too."""
    Membership.objects.filter(pk=admin_member.membership.pk).delete()
    assert admin_member.api().get("/api/v1/me").status_code == 401


def test_settings_show_a_removed_members_key_as_revoked(client, tenant, admin_member):
    tenant.browser_client(client)
    response = client.post(f"/settings/members/{admin_member.membership.pk}/remove/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="api-keys"' in body and "revoked" in body
    page = client.get("/settings/").content.decode()
    row = page.split(f"cur_{admin_member.api_key.prefix}_")[1].split("</tr>")[0]
    assert "revoked" in row and "active" not in row


def test_leaving_from_the_settings_page(client, tenant, admin_member):
    client.force_login(admin_member.user)
    response = client.post("/settings/leave/")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=admin_member.membership.pk).exists()
    assert not ApiKey.objects.get(pk=admin_member.api_key.pk).is_active


def test_the_last_owner_is_told_why_they_cannot_leave(client, tenant):
    tenant.browser_client(client)
    response = client.post("/settings/leave/", follow=True)
    assert b"at least one owner" in response.content
    assert Membership.objects.filter(user=tenant.user, workspace=tenant.workspace).exists()


def test_keys_of_people_who_left_before_this_release_are_marked_revoked(tenant, admin_member):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("accounts.migrations.0002_revoke_keys_of_former_members")
    Membership.objects.filter(pk=admin_member.membership.pk).delete()
    migration.revoke_keys_of_former_members(apps, None)
    assert not ApiKey.objects.get(pk=admin_member.api_key.pk).is_active
    assert ApiKey.objects.get(pk=tenant.api_key.pk).is_active
    assert AuditEvent.objects.get(action="accounts.api_key_revoke").target == f"api_key:{admin_member.api_key.pk}"
