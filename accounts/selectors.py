"""Reads of accounts data; each takes the user or the workspace it is scoped to."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from .models import ApiKey, Invitation, Membership, OnboardingStep, User, Workspace


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name", "workspace_id")


def membership_for_session(*, memberships: list[Membership], workspace_id) -> Membership | None:
    """The membership the session points at, or the user's first one when it points nowhere valid."""
    chosen = next((m for m in memberships if workspace_id and m.workspace_id == workspace_id), None)
    return chosen or (memberships[0] if memberships else None)


def workspace_members(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user").order_by("created_at", "id")


def workspace_api_keys(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(workspace=workspace).select_related("created_by")


def workspace_open_invitations(*, workspace: Workspace) -> list[Invitation]:
    pending = (
        Invitation.objects.filter(workspace=workspace, accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .order_by("-created_at")
    )
    return [invitation for invitation in pending if invitation.is_open]


def workspace_owner(*, workspace: Workspace) -> User | None:
    membership = (
        Membership.objects.filter(workspace=workspace, role=Membership.Role.OWNER)
        .select_related("user")
        .order_by("created_at", "id")
        .first()
    )
    return membership.user if membership else None


def account_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def onboarding_steps_done(*, workspace: Workspace) -> dict[str, datetime]:
    """The onboarding steps this workspace has done, each with when."""
    return dict(OnboardingStep.objects.filter(workspace=workspace).values_list("step", "done_at"))


def onboarding_complete(*, workspace: Workspace) -> bool:
    return OnboardingStep.objects.filter(workspace=workspace).count() == len(OnboardingStep.Key.values)
