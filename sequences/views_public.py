"""What a recipient reaches from a sequence email, without logging in: the click redirect, the open pixel and
the unsubscribe page with its one-click POST (RFC 8058)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from visitors.click_ids import QUERY_PARAMETER, click_id_make

from . import services, tokens
from .models import Message

# A transparent 1x1 GIF.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _with_click_id(destination: str, *, workspace_id: int, email: str) -> str:
    """The destination with the signed click id the workspace's pixel reads, so the click identifies the visitor."""
    parts = urlsplit(destination)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != QUERY_PARAMETER]
    query.append((QUERY_PARAMETER, click_id_make(workspace_id=workspace_id, email=email)))
    return urlunsplit(parts._replace(query=urlencode(query)))


@never_cache
@require_GET
def click(request):
    target = tokens.click_target(request.GET.get("t", ""))
    if target is None or urlsplit(target[1]).scheme not in ("http", "https"):
        return HttpResponseBadRequest("This link is broken or was changed.", content_type="text/plain")
    message_pk, destination = target
    message = services.message_clicked(message_pk=message_pk)
    if message is None:  # the sequence was deleted since: the link still goes where it said
        return HttpResponseRedirect(destination)
    return HttpResponseRedirect(_with_click_id(destination, workspace_id=message.workspace_id, email=message.to_email))


@never_cache
@require_GET
def open_pixel(request, token: str):
    message_pk = tokens.open_message_pk(token)
    if message_pk is not None:
        services.message_opened(message_pk=message_pk)
    return HttpResponse(PIXEL_GIF, content_type="image/gif")


@never_cache
@csrf_exempt  # mail providers POST `List-Unsubscribe=One-Click` with no session or token; the URL is the secret
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    message_pk = tokens.unsubscribe_message_pk(token)
    message = Message.objects.select_related("workspace").filter(pk=message_pk).first() if message_pk else None
    if message is None:
        return render(request, "sequences/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        services.message_unsubscribe(message_pk=message.pk, how="one-click" if one_click else "unsubscribe page")
        return render(request, "sequences/unsubscribe.html", {"message": message, "done": True})
    return render(request, "sequences/unsubscribe.html", {"message": message, "done": False})
