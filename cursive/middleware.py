"""What a page does when a service refuses, decided once for every HTML view (the API's exception handler
does the same for /api/)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from cursive import views
from cursive.errors import ApplicationError, NotAuthenticated, NotFound, PermissionDenied


def _back(request) -> str | None:
    """Where the refused form came from: its `next`, else the page that posted it (same site only)."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return views.safe_next(request) or referer
    return views.safe_next(request)


def domain_error_response(request, exc: ApplicationError) -> HttpResponse:
    if views.is_api(request):
        return JsonResponse(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, NotFound):
        return views.page_not_found(request, exc)
    if isinstance(exc, PermissionDenied):
        return views.permission_denied(request, exc)
    if isinstance(exc, NotAuthenticated):
        return redirect_to_login(request.get_full_path())
    if getattr(request, "htmx", False):
        # htmx swaps nothing on a 4xx: answer 200, keep the page as it is and show the message as a toast.
        messages.error(request, exc.message)
        return HttpResponse(headers={"HX-Reswap": "none"})
    if request.method not in ("GET", "HEAD") and (back := _back(request)):
        messages.error(request, exc.message)
        return redirect(back)
    return render(request, "errors/refused.html", {"message": exc.message}, status=exc.status_code)


class DomainErrorMiddleware:
    """A view that lets a domain error through gets its message shown: on the page it came from (POST and
    redirect back), as a toast (htmx), or on an error page with the error's 4xx status; NotFound is the
    404 page and PermissionDenied the 403 page, as `or_404` and the API do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, ApplicationError):
            return domain_error_response(request, exception)
        return None
