from django.contrib.messages import get_messages
from django.http import HttpResponse, QueryDict
from django.template.loader import render_to_string


class HtmxMessagesMiddleware:
    """Deliver Django messages on htmx partial responses as out-of-band toasts.

    A partial swap never re-renders the page's toast container, so without
    this a "Key revoked" message would wait for the next full page load.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            not getattr(request, "htmx", False)
            or response.streaming
            or 300 <= response.status_code < 400
            or "text/html" not in response.get("Content-Type", "")
        ):
            return response
        storage = get_messages(request)
        if not storage:
            return response
        response.content += render_to_string("components/_toasts_oob.html", {"messages": storage}).encode()
        return response


def meaningful_query(query: QueryDict, *, drop: tuple[str, ...] = ("cursor",)) -> QueryDict:
    """The filters a page was asked for: blank values and paging keys removed, so links stay readable."""
    kept = QueryDict(mutable=True)
    for key, values in query.lists():
        non_blank = [value for value in values if value.strip()]
        if non_blank and key not in drop:
            kept.setlist(key, non_blank)
    return kept


def push_url(response: HttpResponse, path: str, query: str) -> HttpResponse:
    """Have htmx put the filters in use into the address bar, so a search can be shared and bookmarked."""
    response["HX-Push-Url"] = f"{path}?{query}" if query else path
    return response
