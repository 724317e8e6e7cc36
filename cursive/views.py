"""Friendly error pages; API paths get the API's JSON error shape instead (docs/api.md, Errors)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from cursive.api.errors import json_error
from cursive.errors import NotFound


def or_404(selector, **kwargs):
    """A workspace-scoped selector's object, or the page's 404 (another workspace's id is "not found" too)."""
    try:
        return selector(**kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _on_this_site(request, target: str | None) -> str | None:
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return None


def safe_next(request) -> str | None:
    """The `next` a form or link carries (where to go afterwards), if it is on this site."""
    return _on_this_site(request, request.POST.get("next") or request.GET.get("next"))


def safe_referer(request) -> str | None:
    """The page a form was posted from, if it is on this site: a Referer can name any site."""
    return _on_this_site(request, request.META.get("HTTP_REFERER"))


def perform(request, service, *, success: str, **kwargs) -> None:
    """Run a workspace-scoped service for a page and show the `success` message; a refusal is shown by
    cursive.middleware.DomainErrorMiddleware."""
    service(**kwargs)
    messages.success(request, success)


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def permission_denied(request, exception=None):
    message = str(exception) if exception and str(exception) else "Your role in this workspace does not allow this."
    if is_api(request):
        return json_error(403, "permission_denied", message)
    return render(request, "errors/403.html", {"message": message}, status=403)


def page_not_found(request, exception=None):
    if is_api(request):
        return json_error(404, "not_found", "Not found.")
    return render(request, "errors/404.html", status=404)


def server_error(request):
    if is_api(request):
        return json_error(500, "server_error", "Something went wrong on our side; it has been logged. Try again shortly.")
    # No request context: the context processors need the database, which may be what failed.
    return render(None, "errors/500.html", {"request_id": getattr(request, "request_id", "")}, status=500)
