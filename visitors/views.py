from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from cursive.api.errors import error_body
from cursive.ratelimit import client_ip

from . import collect, selectors, services


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _read_body(request) -> bytes | JsonResponse:
    too_large = _error(413, "payload_too_large", f"Send at most {collect.MAX_BODY_BYTES // 1024} KB at once.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "bad_request", "Content-Length is not a number.")
    if declared > collect.MAX_BODY_BYTES:
        return too_large
    # Read one byte past the limit: a body longer than its Content-Length said is refused the same way.
    raw = request.read(collect.MAX_BODY_BYTES + 1)
    return too_large if len(raw) > collect.MAX_BODY_BYTES else raw


@csrf_exempt
@require_POST
def collect_events(request):
    """The snippet's beacon (API.md): 202 whether events were stored or dropped as bots, other sites' or a
    flood's excess, so the answer tells a scraper nothing; 400/413 for a body the snippet never sends."""
    raw = _read_body(request)
    if isinstance(raw, HttpResponse):
        return raw
    try:
        events = collect.parse_body(raw)
    except collect.BadBeacon as exc:
        return _error(400, "invalid_beacon", str(exc))
    accepted = 202
    if not events or collect.is_bot(request.META.get("HTTP_USER_AGENT", "")):
        return HttpResponse(status=accepted)
    origin = request.META.get("HTTP_ORIGIN")
    origin_host = collect.host_of(origin) if origin and origin != "null" else None
    pixels = selectors.pixels_by_site_key(site_keys={event["site"] for event in events})
    by_site: dict[str, list[dict]] = {}
    for event in events:
        pixel = pixels.get(event["site"])
        if pixel is not None and collect.host_allowed(origin_host or collect.host_of(event["url"]), pixel.domain):
            by_site.setdefault(event["site"], []).append(event)
    rate = settings.PIXEL_EVENTS_PER_SECOND_PER_SITE
    kept = []
    for site, site_events in by_site.items():
        granted = collect.buckets.take(site, len(site_events), rate=rate)
        kept += [(pixels[site].pk, event) for event in site_events[:granted]]
    services.events_record(events=kept, ip=client_ip(request))
    return HttpResponse(status=accepted)
