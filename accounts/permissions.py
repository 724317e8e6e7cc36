from rest_framework.permissions import BasePermission


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
            return True
        return request.membership is not None and request.membership.can_manage
