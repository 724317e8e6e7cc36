from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect


def workspace_required(view=None, *, manager=False, kind=None):
    """A dashboard page: logged in, inside a workspace, optionally owner/admin or of one kind."""

    def decorator(func):
        @login_required
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            if request.workspace is None:
                # Staff run Cursive from the admin; everyone else needs a workspace first.
                return redirect("admin:index" if request.user.is_staff else "accounts:workspace_new")
            if manager and not request.membership.can_manage:
                raise PermissionDenied("Only owners and admins of this workspace can do this.")
            if kind and request.workspace.kind != kind:
                raise PermissionDenied(f"This page is for {kind} workspaces.")
            return func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view else decorator
