from django.contrib.messages import get_messages
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
