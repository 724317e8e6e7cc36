from rest_framework import authentication, exceptions


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Accepts the key WorkspaceMiddleware already checked; a bad key is a 401, never a fallback."""

    keyword = "Token"

    def authenticate(self, request):
        django_request = request._request
        if django_request.api_key is not None:
            return (django_request.user, django_request.api_key)
        if django_request.api_key_invalid:
            raise exceptions.AuthenticationFailed("That API key is not valid or was revoked.")
        return None

    def authenticate_header(self, request):
        return self.keyword


class WorkspaceSessionAuthentication(authentication.SessionAuthentication):
    """The browser session, with CSRF enforced on writes (docs/api.md, Authentication)."""
