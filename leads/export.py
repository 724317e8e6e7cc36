"""CSV export of lead fields, streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve

from .services import LEAD_FIELDS

# A cell starting with one of these is run as a formula by Excel, Sheets and LibreOffice.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Except a phone number ("+14155550101", "-415-555-0101"): at worst a spreadsheet does arithmetic with it, so it
# is written as it is. "+1" or "-2" are too short to be a phone number and stay escaped.
_PHONE = re.compile(r"\+?[0-9 ().-]+")
_PHONE_MIN_DIGITS = 7


# My Leads exports also say where each lead came from and what the team did with it.
WORKSPACE_EXPORT_FIELDS = (*LEAD_FIELDS, "source", "status", "score", "tags")


def escape_cell(value) -> str:
    if isinstance(value, (list, tuple)):
        value = ";".join(str(item) for item in value)
    text = "" if value is None else str(value)
    if not text.startswith(FORMULA_PREFIXES) or _is_phone(text):
        return text
    return "'" + text


def _is_phone(text: str) -> bool:
    return bool(_PHONE.fullmatch(text)) and sum(char.isdigit() for char in text) >= _PHONE_MIN_DIGITS


# Rows leave in pieces of about this many characters: one piece per row made the server write to the socket
# thousands of times for one export.
CHUNK_CHARS = 64 * 1024
# Rows fetched per round trip from PostgreSQL's server-side cursor: memory stays bounded whatever the size.
FETCH_ROWS = 2000


def csv_rows(rows: Iterable[Sequence], fields: tuple[str, ...] = LEAD_FIELDS) -> Iterator[str]:
    """The header and one escaped line per row of values (in `fields` order), produced lazily for a
    StreamingHttpResponse, in pieces of about CHUNK_CHARS."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for row in rows:
        writer.writerow([escape_cell(value) for value in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def queryset_csv(queryset: QuerySet, fields: tuple[str, ...] = LEAD_FIELDS) -> Iterator[str]:
    """The CSV of a queryset, read through a server-side cursor as it is sent, as plain values: an export
    builds no model instance per row."""
    return csv_rows(queryset.values_list(*fields).iterator(chunk_size=FETCH_ROWS), fields)


RETRY_AFTER_SECONDS = 5


class _ExportGate:
    """How many exports one server process streams at once, and how many more may wait for a turn."""

    def __init__(self, running: int, queued: int):
        self.size = (running, queued)
        self._running = threading.BoundedSemaphore(running)
        self._admitted = threading.BoundedSemaphore(running + queued)

    def enter(self, wait_seconds: float) -> Callable[[], None] | None:
        """A function that gives the turn back, or None when there is no turn to be had."""
        if not self._admitted.acquire(blocking=False):
            return None
        if not self._running.acquire(timeout=wait_seconds):
            self._admitted.release()
            return None
        released = threading.Lock()

        def leave():
            if released.acquire(blocking=False):
                self._running.release()
                self._admitted.release()

        return leave


_gate: _ExportGate | None = None
_gate_lock = threading.Lock()


def _export_gate() -> _ExportGate:
    global _gate
    size = (settings.EXPORTS_PER_PROCESS, settings.EXPORTS_QUEUED_PER_PROCESS)
    with _gate_lock:
        if _gate is None or _gate.size != size:
            _gate = _ExportGate(*size)
        return _gate


class _HoldingTurn:
    """The body of an export, holding its turn until the server closes the response (or drops it)."""

    def __init__(self, content: Iterator[bytes], leave: Callable[[], None]):
        self._content = content
        self._leave = weakref.finalize(self, leave)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        return next(self._content)

    def close(self) -> None:
        self._leave()


def gated_export(view):
    """Marks a view whose response streams a whole export: ExportGateMiddleware bounds how many run at once."""
    view.export_gate = True
    return view


def _is_gated(path: str) -> bool:
    try:
        view = resolve(path).func
    except Resolver404:
        return False
    return getattr(view, "export_gate", False) or getattr(getattr(view, "view_class", None), "export_gate", False)


class ExportGateMiddleware:
    """Bounds the exports a web process streams at once (EXPORTS_PER_PROCESS, EXPORTS_QUEUED_PER_PROCESS more
    waiting at most EXPORT_QUEUE_SECONDS for a turn). An export holds a web thread while it streams; without a
    bound, a crowd of exporting clients took every thread and /health waited behind them for seconds.

    It runs before sessions, authentication and rate limits, so turning a client away costs no query: under a
    crowd the requests queued before /health drain in milliseconds. The answer is 429 with Retry-After.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "GET" or not _is_gated(request.path_info):
            return self.get_response(request)
        leave = _export_gate().enter(settings.EXPORT_QUEUE_SECONDS)
        if leave is None:
            return _busy(request)
        try:
            response = self.get_response(request)
        except BaseException:
            leave()
            raise
        if response.streaming:
            response.streaming_content = _HoldingTurn(iter(response.streaming_content), leave)
        else:
            leave()
        return response


def _busy(request) -> HttpResponse:
    message = "Many exports are running right now; try again in a few seconds."
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"error": {"code": "exports_busy", "message": message}}, status=429)
    else:
        response = HttpResponse(render_to_string("errors/429.html", {"message": message}), status=429)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def csv_download(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
