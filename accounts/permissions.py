from rest_framework.permissions import BasePermission

from .models import Membership

MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


class IsWorkspaceMember(BasePermission):
    message = "Log in or send an API key for a workspace."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.workspace is not None)


class IsWorkspaceManager(IsWorkspaceMember):
    message = "Only owners and admins of the workspace can do this."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.api_key is not None:
            # A key made from the command line acts as the owner; any other with its creator's current role.
            return request.api_key.created_by_id is None or request.api_key.creator_role in MANAGER_ROLES
        return request.membership is not None and request.membership.can_manage
