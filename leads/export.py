"""CSV export of lead fields, streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

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


class _Echo:
    def write(self, value):
        return value


def csv_rows(rows: Iterable, fields: tuple[str, ...] = LEAD_FIELDS) -> Iterator[str]:
    """The header and one escaped line per object, produced lazily for a StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    yield writer.writerow(fields)
    for row in rows:
        yield writer.writerow([escape_cell(getattr(row, field)) for field in fields])


def csv_download(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
