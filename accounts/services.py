"""Every write to users, workspaces, memberships, invitations and API keys."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from cursive.audit import audit_record
from cursive.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from .models import ApiKey, Invitation, Membership, OnboardingStep, User, Workspace
from .signals import onboarding_step_done
from .validators import SINGLE_LINE_MESSAGE, is_single_line, one_line

API_KEY_PREFIX = "cur_"


def _sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _validate_password(password: str, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), fields={"password": exc.messages}) from exc


@transaction.atomic
def user_create(*, email: str, password: str, full_name: str = "", is_staff: bool = False) -> User:
    email = User.objects.normalize_email(email).strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed(
            "An account with this email already exists; log in or reset your password.",
            fields={"email": ["An account with this email already exists."]},
        )
    _validate_password(password, User(email=email, full_name=full_name))
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email,
                password=password,
                full_name=full_name.strip(),
                is_staff=is_staff,
                is_superuser=is_staff,
            )
    except IntegrityError as exc:  # a concurrent sign-up with the same address
        raise ValidationFailed("An account with this email already exists.", fields={"email": ["Already registered."]}) from exc


@transaction.atomic
def workspace_create(*, name: str, owner: User, kind: str = Workspace.Kind.BUYER) -> Workspace:
    name = name.strip()
    if not name:
        raise ValidationFailed("Give the workspace a name.", fields={"name": ["This field is required."]})
    if not is_single_line(name):
        raise ValidationFailed(f"Workspace name: {SINGLE_LINE_MESSAGE}", fields={"name": [SINGLE_LINE_MESSAGE]})
    if kind not in Workspace.Kind.values:
        raise ValidationFailed(f"Unknown workspace kind '{kind}'.", fields={"kind": ["Use buyer or partner."]})
    workspace = Workspace.objects.create(name=name, kind=kind)
    Membership.objects.create(user=owner, workspace=workspace, role=Membership.Role.OWNER)
    return workspace


@transaction.atomic
def user_signup(
    *, email: str, password: str, full_name: str, workspace_name: str, kind: str = Workspace.Kind.BUYER
) -> tuple[User, Workspace]:
    user = user_create(email=email, password=password, full_name=full_name)
    workspace = workspace_create(name=workspace_name or f"{user.get_short_name()}'s workspace", owner=user, kind=kind)
    return user, workspace


@lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted: the choices of a workspace's time zone."""
    return tuple(sorted(zoneinfo.available_timezones()))


@transaction.atomic
def workspace_time_zone_set(*, workspace: Workspace, actor: User, time_zone: str) -> Workspace:
    """Set the zone sequences fall back to for leads whose state or country gives none."""
    _require_manager(workspace=workspace, actor=actor)
    time_zone = (time_zone or "").strip()
    if time_zone not in time_zone_names():
        raise ValidationFailed(
            "Choose a time zone from the list, like America/New_York.", fields={"time_zone": ["Unknown time zone."]}
        )
    workspace.time_zone = time_zone
    workspace.save(update_fields=["time_zone"])
    return workspace


def _require_manager(*, workspace: Workspace, actor: User) -> Membership:
    membership = Membership.objects.filter(workspace=workspace, user=actor).first()
    if membership is None:
        raise NotFound()
    if not membership.can_manage:
        raise PermissionDenied("Only owners and admins can do this.")
    return membership


@transaction.atomic
def api_key_create(*, workspace: Workspace, name: str, created_by: User | None) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored and never shown again."""
    if created_by is not None:
        _require_manager(workspace=workspace, actor=created_by)
    name = name.strip() or "API key"
    prefix = secrets.token_hex(4)
    raw = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        workspace=workspace, name=name[:80], prefix=prefix, key_hash=_sha256(raw), created_by=created_by
    )
    return api_key, raw


@transaction.atomic
def api_key_revoke(*, workspace: Workspace, api_key_id: int, actor: User) -> ApiKey:
    _require_manager(workspace=workspace, actor=actor)
    api_key = ApiKey.objects.select_for_update().filter(workspace=workspace, pk=api_key_id).first()
    if api_key is None:
        raise NotFound("That API key does not exist.")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key matching a raw secret, or None. Compares hashes in constant time."""
    raw = raw.strip()
    if not raw.startswith(API_KEY_PREFIX) or raw.count("_") < 2:
        return None
    prefix = raw[len(API_KEY_PREFIX) :].split("_", 1)[0]
    # A key acts as the member who made it, so it lives only while they are a member: whatever ended the
    # membership (removal, leaving, staff in the admin), the key stops working with it. Keys made without a
    # person (the CLI) act as the workspace's owner.
    creator = Membership.objects.filter(workspace=OuterRef("workspace"), user=OuterRef("created_by"))
    api_key = (
        ApiKey.objects.select_related("workspace", "created_by")
        .filter(Q(created_by__isnull=True) | Exists(creator), prefix=prefix, revoked_at__isnull=True)
        # The role it acts with is the creator's today, not the one they had when they made the key.
        .annotate(creator_role=Subquery(creator.values("role")[:1]))
        .first()
    )
    if api_key is None or not secrets.compare_digest(api_key.key_hash, _sha256(raw)):
        return None
    _api_key_touch(api_key)
    return api_key


def _api_key_touch(api_key: ApiKey) -> None:
    # At most one write a minute per key: last_used_at is for humans, not an audit trail.
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


@transaction.atomic
def invitation_create(*, workspace: Workspace, email: str, role: str, invited_by: User) -> Invitation:
    _require_manager(workspace=workspace, actor=invited_by)
    email = User.objects.normalize_email(email).strip().lower()
    if role not in (Membership.Role.ADMIN, Membership.Role.MEMBER):
        raise ValidationFailed("Invite as admin or member.", fields={"role": ["Choose admin or member."]})
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of this workspace.", code="already_member")
    Invitation.objects.filter(workspace=workspace, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace, email=email, role=role, token_hash=_sha256(raw), invited_by=invited_by
    )
    link = settings.SITE_URL.rstrip("/") + reverse("accounts:invitation_accept", args=[raw])
    transaction.on_commit(
        lambda: send_mail(
            subject=one_line(f"{invited_by.get_full_name()} invited you to {workspace.name} on Cursive"),
            message=(
                f"{invited_by.get_full_name()} invited you to join the workspace '{workspace.name}' on Cursive.\n\n"
                f"Accept the invitation: {link}\n\n"
                f"The link works for {settings.INVITATION_MAX_AGE_DAYS} days."
            ),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation


def invitation_for_token(raw: str) -> Invitation:
    invitation = Invitation.objects.select_related("workspace", "invited_by").filter(token_hash=_sha256(raw)).first()
    if invitation is None or not invitation.is_open:
        raise NotFound("This invitation link is not valid any more; ask for a new one.")
    return invitation


@transaction.atomic
def invitation_accept(*, raw_token: str, user: User) -> Membership:
    invitation = invitation_for_token(raw_token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise NotFound("This invitation link is not valid any more; ask for a new one.")
    if invitation.email.lower() != user.email.lower():
        raise PermissionDenied(f"This invitation was sent to {invitation.email}; log in with that address to accept it.")
    membership, _ = Membership.objects.get_or_create(
        user=user, workspace=invitation.workspace, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership


@transaction.atomic
def invitation_signup(*, raw_token: str, full_name: str, password: str) -> Membership:
    """A newcomer accepts an invitation by creating their account with the invited address: they join the
    inviting workspace and get no workspace of their own."""
    invitation = invitation_for_token(raw_token)
    user = user_create(email=invitation.email, password=password, full_name=full_name)
    return invitation_accept(raw_token=raw_token, user=user)


@transaction.atomic
def invitation_revoke(*, workspace: Workspace, invitation_id: int, actor: User) -> None:
    _require_manager(workspace=workspace, actor=actor)
    updated = Invitation.objects.filter(
        workspace=workspace, pk=invitation_id, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound("That invitation does not exist or was already used.")


def _membership_end(
    *, workspace: Workspace, memberships: list[Membership], target: Membership | None, actor: User, action: str
) -> None:
    """End one of the workspace's memberships (locked by the caller; the workspace keeps an owner) and revoke
    the API keys its member made there, which would otherwise go on acting as someone no longer in it."""
    if target is None:
        raise NotFound("That member does not exist.")
    owners = [m for m in memberships if m.role == Membership.Role.OWNER]
    if target.role == Membership.Role.OWNER and len(owners) == 1:
        raise Conflict("A workspace needs at least one owner; make someone else owner first.", code="last_owner")
    keys = ApiKey.objects.filter(workspace=workspace, created_by_id=target.user_id, revoked_at__isnull=True)
    revoked = list(keys.order_by("pk").values_list("prefix", flat=True))
    keys.update(revoked_at=timezone.now())
    audit_record(
        actor=actor,
        action=action,
        target=f"user:{target.user_id}",
        workspace=workspace,
        role=target.role,
        revoked_api_keys=revoked,
    )
    target.delete()


@transaction.atomic
def api_keys_revoke_for_deleted_user(*, user: User) -> None:
    """A user is being deleted (staff, in the admin): their keys would be left without a creator, which is how
    a key made from the command line looks, and act as the workspace's owner. Revoke them first."""
    keys = ApiKey.objects.filter(created_by=user, revoked_at__isnull=True)
    for key in keys.select_related("workspace").order_by("pk"):
        audit_record(
            actor=None,
            action="accounts.user_delete_key_revoke",
            target=f"user:{user.pk}",
            workspace=key.workspace,
            reason="The user who made this key was deleted.",
            api_key=key.prefix,
        )
    keys.update(revoked_at=timezone.now())


def _memberships_locked(workspace: Workspace) -> list[Membership]:
    return list(Membership.objects.select_for_update().filter(workspace=workspace).order_by("pk"))


@transaction.atomic
def membership_remove(*, workspace: Workspace, membership_id: int, actor: User) -> None:
    _require_manager(workspace=workspace, actor=actor)
    memberships = _memberships_locked(workspace)
    _membership_end(
        workspace=workspace,
        memberships=memberships,
        actor=actor,
        action="accounts.member_remove",
        target=next((m for m in memberships if m.pk == membership_id), None),
    )


@transaction.atomic
def membership_leave(*, workspace: Workspace, user: User) -> None:
    memberships = _memberships_locked(workspace)
    _membership_end(
        workspace=workspace,
        memberships=memberships,
        actor=user,
        action="accounts.member_leave",
        target=next((m for m in memberships if m.user_id == user.pk), None),
    )


_STEP_INSERT = """
INSERT INTO accounts_onboardingstep (workspace_id, step, done_at) VALUES (%s, %s, %s)
ON CONFLICT (workspace_id, step) DO NOTHING RETURNING id
"""


def onboarding_step_complete(*, workspace: Workspace, step: str) -> bool:
    """Record that the workspace did `step` for real; True the first time, False ever after. Called by the
    service that did the thing, inside its transaction, so a rolled-back operation ticks nothing. After the
    first time this is one indexed read, cheap enough for every Lead Search."""
    if step not in OnboardingStep.Key.values:
        raise ValueError(f"Unknown onboarding step {step!r}.")
    if OnboardingStep.objects.filter(workspace=workspace, step=step).exists():
        return False
    # No savepoint: inside a caller's transaction a failure here fails it anyway; alone, this is one transaction.
    with transaction.atomic(savepoint=False):
        # ON CONFLICT: two requests doing the same step at once record it once, and only one tells the receivers.
        with connection.cursor() as cursor:
            cursor.execute(_STEP_INSERT, [workspace.pk, step, timezone.now()])
            if cursor.fetchone() is None:
                return False
        onboarding_step_done.send(sender=OnboardingStep, workspace=workspace, step=step)
    return True
