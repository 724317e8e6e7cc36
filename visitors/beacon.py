"""The two endpoints every customer site calls: the snippet (`GET /p/cursive.js`) and its beacon
(`POST /p/collect`). Both are answered by a middleware placed right after static files, before sessions,
CSRF, authentication and the rest, none of which they use (nor should their answers vary by a cookie): the
beacon is the hottest path Cursive has (bench/pixel.py)."""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from cursive.api.errors import error_body
from cursive.ratelimit import client_ip

from . import buffer, collect, selectors

SCRIPT_PATH = "/p/cursive.js"
COLLECT_PATH = "/p/collect"


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


def _any_origin(view):
    """Any site may read these answers: no cookie or credential is ever involved, and without the header
    every beacon would log a CORS error in the host page's console."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Access-Control-Allow-Origin"] = "*"
        return response

    return wrapped


@dataclass(frozen=True)
class _Script:
    plain: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str


@functools.cache
def _script() -> _Script:
    """static/pixel/cursive.js as served, read and compressed once per process. Whole-line comments and
    indentation are for readers of the repository, not for every visitor's browser: dropping them takes the
    gzipped script from about 2.5 KB to under 2 KB without a build step."""
    source = (settings.BASE_DIR / "static" / "pixel" / "cursive.js").read_text(encoding="utf-8")
    lines = (line.strip() for line in source.splitlines())
    plain = "\n".join(line for line in lines if line and not line.startswith("//")).encode() + b"\n"
    digest = hashlib.sha256(plain).hexdigest()[:20]
    # mtime=0: the same bytes, and so the same ETag, from every process and every deploy of the same script.
    return _Script(plain=plain, gzipped=gzip.compress(plain, 9, mtime=0), etag=f'"{digest}"', gzip_etag=f'"{digest}-gz"')


def _accepts_gzip(header: str) -> bool:
    """Whether Accept-Encoding allows gzip: named, or covered by `*`, with a quality above zero."""
    qualities = {}
    for coding in header.split(","):
        name, _, params = coding.partition(";")
        quality = params.strip().lower()
        try:
            qualities[name.strip().lower()] = float(quality.removeprefix("q=")) if quality.startswith("q=") else 1.0
        except ValueError:
            qualities[name.strip().lower()] = 0.0
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


# A day fresh, then a week served from cache while the browser revalidates in the background. Not a year:
# the URL carries no version, and every installed site must pick up a fixed script within a day or so.
SCRIPT_CACHE_CONTROL = "public, max-age=86400, stale-while-revalidate=604800"


@_any_origin
@require_safe
def snippet_script(request):
    """GET /p/cursive.js: the snippet every customer site loads, cacheable by browsers and CDNs."""
    script = _script()
    gzipped = _accepts_gzip(request.META.get("HTTP_ACCEPT_ENCODING", ""))
    etag = script.gzip_etag if gzipped else script.etag
    # If-None-Match compares weakly (RFC 9110 13.1.2): either encoding of the current script is a match.
    offered = {tag.strip().removeprefix("W/") for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")}
    if "*" in offered or offered & {script.etag, script.gzip_etag}:
        response = HttpResponse(status=304)
    else:
        body = script.gzipped if gzipped else script.plain
        response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
        response["Content-Length"] = str(len(body))
        if gzipped:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Cache-Control"] = SCRIPT_CACHE_CONTROL
    response["Vary"] = "Accept-Encoding"
    # Pages that isolate themselves (Cross-Origin-Embedder-Policy: require-corp) may load it too.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _preflight() -> HttpResponse:
    """Browsers send text/plain without asking first; a tool posting application/json from a page asks."""
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = "POST"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "86400"
    return response


@_any_origin
def collect_events(request):
    """The snippet's beacon (docs/pixel.md): 202 whether events were queued for storage or dropped as bots, other
    sites' or a flood's excess, so the answer tells a scraper nothing; 400/413 for a body the snippet never
    sends. Events are written a moment later with other requests' (visitors/buffer.py)."""
    if request.method == "OPTIONS":
        return _preflight()
    if request.method != "POST":
        response = _error(405, "method_not_allowed", "Send events with POST.")
        response["Allow"] = "POST, OPTIONS"
        return response
    raw = _read_body(request)
    if isinstance(raw, HttpResponse):
        return raw
    try:
        events = collect.parse_body(raw)
    except collect.BadBeacon as exc:
        return _error(400, "invalid_beacon", str(exc))
    accepted = HttpResponse(status=202)
    if not events or collect.is_bot(request.META.get("HTTP_USER_AGENT", "")):
        return accepted
    origin = request.META.get("HTTP_ORIGIN")
    origin_host = collect.host_of(origin) if origin and origin != "null" else None
    sites = collect.site_keys.lookup(
        {event["site"] for event in events},
        load=lambda keys: selectors.pixels_by_site_key(site_keys=keys),
        ttl=settings.PIXEL_SITE_CACHE_SECONDS,
    )
    by_site: dict[str, list[dict]] = {}
    for event in events:
        site = sites.get(event["site"])
        if site is not None and collect.host_allowed(origin_host or collect.host_of(event["url"]), site[1]):
            by_site.setdefault(event["site"], []).append(event)
    received_at, ip = timezone.now(), client_ip(request)
    kept = []
    for site, site_events in by_site.items():
        granted = collect.buckets.take(site, len(site_events), rate=settings.PIXEL_EVENTS_PER_SECOND_PER_SITE)
        kept += [(sites[site][0], {**event, "received_at": received_at, "ip": ip}) for event in site_events[:granted]]
    if kept:
        buffer.events.add(kept)
    return accepted


class BeaconMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == COLLECT_PATH:
            return collect_events(request)
        if request.path_info == SCRIPT_PATH:
            return snippet_script(request)
        return self.get_response(request)
