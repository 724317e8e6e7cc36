"""What a page does when a service refuses, decided once for every HTML view (the API's exception handler
does the same for /api/)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render

from cursive import views
from cursive.errors import ApplicationError, NotAuthenticated, NotFound, PayloadTooLarge, PermissionDenied, ValidationFailed
from cursive.text import NUL, NUL_MESSAGE


def _back(request) -> str | None:
    """Where the refused form came from: its `next`, else the page that posted it (same site only)."""
    return views.safe_next(request) or views.safe_referer(request)


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


def _too_large() -> PayloadTooLarge:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1_048_576
    return PayloadTooLarge(
        f"The request is too large: the limit is {limit:,.1f} MB (files excepted). Send less at once.", code="payload_too_large"
    )


def _input_refusal(request) -> ApplicationError | None:
    """Why the request's input cannot reach a view: a body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django raises
    RequestDataTooBig wherever the body is first read, which used to be deep in a view), too many fields, or
    a NUL character in a query or form field, which PostgreSQL refuses in text. JSON bodies are checked by
    the API's parser, after parsing."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        if (
            limit is not None
            and not request.content_type.startswith("multipart/")
            and int(request.META.get("CONTENT_LENGTH") or 0) > limit
        ):
            return _too_large()
        fields = [request.GET, request.POST]
    except RequestDataTooBig:
        return _too_large()
    except (TooManyFieldsSent, TooManyFilesSent) as exc:
        return ValidationFailed(str(exc), code="too_many_fields")
    except MultiPartParserError:
        return ValidationFailed("The form data could not be read; send it again.", code="bad_request")
    except ValueError:
        return ValidationFailed("Content-Length is not a number.", code="bad_request")
    for query in fields:
        for key, values in query.lists():
            if NUL in key or any(NUL in value for value in values):
                return ValidationFailed(NUL_MESSAGE, code="invalid_characters")
    return None


class RequestGuardMiddleware:
    """Input nothing in Cursive can take is refused before any view, in the shape of the API or the page:
    a NUL in the path is not found, a body over the limit is 413, a NUL in a field is 400."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path:
            return views.page_not_found(request)
        refusal = _input_refusal(request)
        if refusal is None:
            return self.get_response(request)
        if isinstance(refusal, PayloadTooLarge) and not views.is_api(request) and not getattr(request, "htmx", False):
            # A form that large is not one of ours: nothing to go back to, say what happened.
            return render(request, "errors/refused.html", {"message": refusal.message}, status=413)
        return domain_error_response(request, refusal)
