from django.utils.functional import SimpleLazyObject

from cursive.ratelimit import API_PREFIX

from .selectors import membership_for_session, memberships_for_user, workspace_owner
from .services import api_key_authenticate

SESSION_WORKSPACE_KEY = "workspace_id"


class WorkspaceMiddleware:
    """Resolve `request.workspace` (and `request.membership`) once per request.

    Under /api/v1/ an `Authorization: Token <key>` header selects the key's
    workspace and acts as the user who created the key. Everywhere else (pages,
    exports, Django admin) the header is ignored: a key is an integration's
    credential, not a login, so only the session can open a page. The logged-in
    user's session picks one of their workspaces. Every selector then takes
    `request.workspace`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.workspace = None
        request.membership = None
        request.memberships = []
        request.api_key = None
        request.api_key_invalid = False
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header[:6].lower() == "token " and request.path_info.startswith(API_PREFIX):
            api_key = api_key_authenticate(header[6:])
            if api_key is None:
                request.api_key_invalid = True
            else:
                request.api_key = api_key
                request.workspace = api_key.workspace
                acting = api_key.created_by or workspace_owner(workspace=api_key.workspace)
                request.user = SimpleLazyObject(lambda: acting)
        elif request.user.is_authenticated:
            # One query serves both the current workspace and the workspace switcher.
            request.memberships = list(memberships_for_user(user=request.user))
            membership = membership_for_session(
                memberships=request.memberships, workspace_id=request.session.get(SESSION_WORKSPACE_KEY)
            )
            if membership is not None:
                request.membership = membership
                request.workspace = membership.workspace
        return self.get_response(request)
