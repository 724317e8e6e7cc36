import pytest
from django.contrib.auth import authenticate
from django.core import mail

from accounts.models import ApiKey, Invitation, Membership, Workspace
from accounts.services import (
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    invitation_accept,
    invitation_create,
    membership_remove,
    user_create,
    user_signup,
    workspace_create,
)
from cursive.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db


def test_signup_creates_user_workspace_and_owner_membership():
    user, workspace = user_signup(
        email="Ann@Example.COM", password="a-good-password-1", full_name="Ann", workspace_name="Ann Co", kind="partner"
    )
    assert user.email == "ann@example.com"
    assert workspace.kind == Workspace.Kind.PARTNER
    assert Membership.objects.get(user=user, workspace=workspace).role == Membership.Role.OWNER
    assert authenticate(username="ann@example.com", password="a-good-password-1") == user


def test_signup_rejects_duplicate_email_case_insensitively_and_weak_passwords():
    user_signup(email="ann@example.com", password="a-good-password-1", full_name="Ann", workspace_name="A")
    with pytest.raises(ValidationFailed) as exc:
        user_signup(email="ANN@example.com", password="a-good-password-1", full_name="Ann", workspace_name="B")
    assert "email" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        user_create(email="bob@example.com", password="12345678")
    assert "password" in exc.value.fields
    assert Workspace.objects.count() == 1


def test_api_key_is_stored_hashed_and_shown_once(tenant):
    api_key, raw = api_key_create(workspace=tenant.workspace, name="CRM", created_by=tenant.user)
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert raw.startswith("cur_") and raw not in (stored.key_hash, stored.prefix)
    assert api_key_authenticate(raw) == api_key
    assert api_key_authenticate(raw + "x") is None
    assert api_key_authenticate(raw.replace(stored.prefix, "00000000")) is None


def test_revoked_key_no_longer_authenticates(tenant):
    api_key_revoke(workspace=tenant.workspace, api_key_id=tenant.api_key.pk, actor=tenant.user)
    assert api_key_authenticate(tenant.raw_key) is None


def test_members_cannot_manage_keys_or_invite(tenant):
    member = user_create(email="member@acme.test", password="member-pass-123")
    Membership.objects.create(user=member, workspace=tenant.workspace, role=Membership.Role.MEMBER)
    with pytest.raises(PermissionDenied):
        api_key_create(workspace=tenant.workspace, name="x", created_by=member)
    with pytest.raises(PermissionDenied):
        invitation_create(workspace=tenant.workspace, email="z@z.test", role="member", invited_by=member)


def test_cannot_revoke_another_workspaces_key(tenant, other_tenant):
    with pytest.raises(NotFound):
        api_key_revoke(workspace=tenant.workspace, api_key_id=other_tenant.api_key.pk, actor=tenant.user)


def test_invitation_email_and_acceptance(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitation_create(workspace=tenant.workspace, email="New@Acme.test", role="admin", invited_by=tenant.user)
    assert invitation.email == "new@acme.test"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@acme.test"]
    token = mail.outbox[0].body.split("/invitations/")[1].split("/")[0]
    invitee = user_create(email="new@acme.test", password="invitee-pass-123")
    membership = invitation_accept(raw_token=token, user=invitee)
    assert membership.role == Membership.Role.ADMIN
    with pytest.raises(NotFound):
        invitation_accept(raw_token=token, user=invitee)


def test_invitation_is_only_for_its_addressee(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(workspace=tenant.workspace, email="new@acme.test", role="member", invited_by=tenant.user)
    token = mail.outbox[0].body.split("/invitations/")[1].split("/")[0]
    stranger = user_create(email="stranger@evil.test", password="stranger-pass-123")
    with pytest.raises(PermissionDenied):
        invitation_accept(raw_token=token, user=stranger)
    assert not Membership.objects.filter(user=stranger).exists()


def test_reinviting_replaces_the_open_invitation(tenant):
    invitation_create(workspace=tenant.workspace, email="x@acme.test", role="member", invited_by=tenant.user)
    invitation_create(workspace=tenant.workspace, email="x@acme.test", role="admin", invited_by=tenant.user)
    open_ones = Invitation.objects.filter(workspace=tenant.workspace, revoked_at__isnull=True)
    assert [i.role for i in open_ones] == ["admin"]


def test_inviting_an_existing_member_is_a_conflict(tenant):
    with pytest.raises(Conflict):
        invitation_create(workspace=tenant.workspace, email=tenant.user.email, role="member", invited_by=tenant.user)


def test_the_last_owner_cannot_be_removed(tenant):
    owner_membership = Membership.objects.get(user=tenant.user, workspace=tenant.workspace)
    with pytest.raises(Conflict):
        membership_remove(workspace=tenant.workspace, membership_id=owner_membership.pk, actor=tenant.user)


@pytest.mark.parametrize("name", ["Acme\r\nBcc: victim@example.com", "Acme\nLtd", "Acme\x00", "Acme\tLtd", "A\x85B"])
def test_workspace_names_are_one_line_without_control_characters(tenant, name):
    with pytest.raises(ValidationFailed) as exc:
        workspace_create(name=name, owner=tenant.user)
    assert "name" in exc.value.fields
    assert not Workspace.objects.filter(name__contains="Acme").exclude(pk=tenant.workspace.pk).exists()


def test_an_existing_multiline_workspace_name_does_not_break_invitation_emails(tenant, django_capture_on_commit_callbacks):
    # Names stored before the rule existed, and inviters' names, may hold line breaks.
    Workspace.objects.filter(pk=tenant.workspace.pk).update(name="Acme\r\nCorp")
    tenant.workspace.refresh_from_db()
    type(tenant.user).objects.filter(pk=tenant.user.pk).update(full_name="Ann\nLee")
    tenant.user.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(workspace=tenant.workspace, email="new@acme.test", role="member", invited_by=tenant.user)
    assert len(mail.outbox) == 1
    subject = mail.outbox[0].message()["Subject"]
    assert subject == "Ann Lee invited you to Acme Corp on Cursive"
