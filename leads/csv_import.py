"""Reading lead CSVs (partners' uploads, buyers' enrichment lists): encodings, delimiters, header variants,
and the checks that reject a file whole."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

from django.conf import settings

from cursive.errors import PayloadTooLarge, ValidationFailed
from cursive.files import StoredFile
from leads.services import LEAD_FIELDS

SAMPLE_BYTES = 256 * 1024
# A header longer than this is not a header: the file has no line breaks, or is not a CSV.
MAX_HEADER_BYTES = 64 * 1024

# Normalised header (lowercase, letters and digits only) -> lead field.
_ALIASES = {
    "first_name": ["firstname", "first", "fname", "givenname", "forename"],
    "last_name": ["lastname", "last", "lname", "surname", "familyname"],
    "email": ["email", "emailaddress", "mail", "workemail", "businessemail", "emailid", "contactemail"],
    "phone": [
        "phone",
        "phonenumber",
        "telephone",
        "tel",
        "mobile",
        "mobilephone",
        "cell",
        "directphone",
        "workphone",
        "contactphone",
        "phoneno",
    ],
    "title": ["title", "jobtitle", "position", "role", "designation"],
    "seniority": ["seniority", "senioritylevel", "level", "managementlevel"],
    "company_name": [
        "company",
        "companyname",
        "organization",
        "organisation",
        "account",
        "accountname",
        "employer",
        "businessname",
    ],
    "company_domain": ["domain", "companydomain", "website", "companywebsite", "url", "companyurl", "web"],
    "company_size": ["companysize", "size", "employees", "employeecount", "headcount", "numberofemployees"],
    "industry": ["industry", "sector", "vertical"],
    "city": ["city", "town", "locality"],
    "state": ["state", "province", "region", "stateprovince", "statecode"],
    "zip": ["zip", "zipcode", "postcode", "postalcode"],
    "country": ["country", "countrycode", "nation"],
    "linkedin_url": ["linkedin", "linkedinurl", "linkedinprofile", "linkedinprofileurl", "li", "liurl"],
}
# What a lead CSV is read from: a path on this machine, or a file in a Django storage (any node's upload). Both
# open("rb") to a fresh stream, so a file is read in passes without ever being held whole.
Source = Path | StoredFile

HEADER_ALIASES = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}
_NON_ALNUM = re.compile(r"[^a-z0-9]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


class FileRejected(Exception):
    """The file as a whole cannot be read as a lead CSV; the message says why, for the person uploading it."""


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    header: list[str]


def normalise_header(header: str) -> str:
    return _NON_ALNUM.sub("", header.strip().lower())


def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """CSV header -> lead field for the headers we recognise; each field taken at most once."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        field = HEADER_ALIASES.get(normalise_header(header))
        if field and field not in taken:
            mapping[header] = field
            taken.add(field)
    return mapping


def validate_mapping(mapping, headers: list[str] | None = None) -> dict[str, str]:
    """A mapping from the user (API or form): known fields, no field twice, headers that exist."""
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ValueError("The mapping must be an object of CSV header -> lead field.")
    cleaned = {header: field for header, field in mapping.items() if field}
    unknown = sorted(set(cleaned.values()) - set(LEAD_FIELDS))
    if unknown:
        raise ValueError(f"Unknown lead fields: {', '.join(unknown)}. Use: {', '.join(LEAD_FIELDS)}.")
    fields = list(cleaned.values())
    twice = sorted({field for field in fields if fields.count(field) > 1})
    if twice:
        raise ValueError(f"Each lead field can come from one column only: {', '.join(twice)} is mapped twice.")
    if headers is not None:
        missing = sorted(set(cleaned) - set(headers))
        if missing:
            raise ValueError(f"The file has no column named {', '.join(missing)}.")
    return cleaned


def _decodes_as(source: Source, encoding: str) -> bool:
    """Whether the whole file decodes in `encoding`: a cp1252 quote may first appear a megabyte in."""
    # Not final: a file cut off inside its last multi-byte character is still that encoding.
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with source.open("rb") as handle:
            while block := handle.read(1 << 20):
                decoder.decode(block)
    except UnicodeDecodeError:
        return False
    return True


def _encoding(source: Source, sample: bytes) -> str:
    """UTF-8 (with or without BOM) and UTF-16 with a BOM; else Windows' cp1252, which spreadsheet exports
    use for curly quotes and dashes; Latin-1 last, as it decodes any byte."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        if _decodes_as(source, encoding):
            return encoding
    return "latin-1"


def detect_format(source: Source) -> CsvFormat:
    """Encoding, delimiter and header of a file, or FileRejected with what is wrong with it."""
    with source.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not sample.strip():
        raise FileRejected("The file is empty.")
    encoding = _encoding(source, sample)
    text = sample.decode(encoding, errors="replace")
    if "\x00" in text:
        raise FileRejected("This is not a text CSV file (it contains binary data). Export your leads as CSV.")
    first_line_end = sample.find(b"\n")
    if first_line_end == -1 and len(sample) >= MAX_HEADER_BYTES or first_line_end > MAX_HEADER_BYTES:
        raise FileRejected(
            f"The first line is longer than {MAX_HEADER_BYTES // 1024} KB, so it cannot be a header row. "
            "Check that the file is a CSV with one lead per line."
        )
    header_line = _LINE_BREAK.split(text, maxsplit=1)[0]
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    delimiter = max(counts, key=counts.get)
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error as exc:
        raise FileRejected(f"The header row cannot be read: {exc}. Check for a quote that is never closed.") from exc
    header = [column.strip() for column in header]
    if not any(header):
        raise FileRejected("The first line is empty: the file needs a header row naming its columns.")
    return CsvFormat(encoding=encoding, delimiter=delimiter, header=header)


def _records(source: Source, fmt: CsvFormat) -> Iterator[tuple[int, int, list[str]]]:
    """(row number, line, cells) of each data row. Rows count from 1 after the header, blank lines are skipped and
    not counted; the line is where a spreadsheet shows the row (the header is line 1, blank lines count, a quoted
    line break stays inside its cell). FileRejected if the file stops being CSV."""
    number = 0
    line = 1
    with io.TextIOWrapper(source.open("rb"), encoding=fmt.encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter)
        try:
            next(reader, None)
            for cells in reader:
                line += 1
                if cells:
                    number += 1
                    yield number, line, cells
        except csv.Error as exc:
            raise FileRejected(
                f"Line {line + 1} of your file cannot be read: {exc}. Check for a quote that is never closed."
            ) from exc


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, str]
    error: str = ""
    cells: list[str] = dataclass_field(default_factory=list)  # as they are in the file: for a copy that keeps every column
    line: int = 0  # the line of the file a person finds it on (see _records); messages name rows by it


def read_rows(source: Source, fmt: CsvFormat, mapping: dict[str, str]) -> Iterator[Row]:
    """Each data row as lead field -> text through `mapping` (CSV header -> field), or with the error that
    makes that row unusable as a whole; the other rows go on. FileRejected for problems of the whole file."""
    # A header named twice: the mapping means its first column.
    positions = {field: fmt.header.index(header) for header, field in mapping.items()}
    width = len(fmt.header)
    for number, line, cells in _records(source, fmt):
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            yield Row(number, {}, f"This row has {len(cells)} cells, the header has {width}.", cells, line)
        elif any("\x00" in cell for cell in cells):
            yield Row(number, {}, "This row contains binary data (a NUL character).", cells, line)
        else:
            values = {name: cells[index] if index < len(cells) else "" for name, index in positions.items()}
            yield Row(number, values, cells=cells, line=line)


def preview_rows(source: Source, fmt: CsvFormat, limit: int = 5) -> list[list[str]]:
    """The first rows as they are, for the mapping step; a file that stops being CSV shows what came before."""
    rows = []
    try:
        for _, _, cells in itertools.islice(_records(source, fmt), limit):
            rows.append([cell[:200] for cell in cells])
    except FileRejected:
        pass
    return rows


def reading_plan(source: Source, mapping: dict | None) -> tuple[CsvFormat, dict[str, str]]:
    """The file's format and the column mapping to read it with (the given one, else the guessed one), or
    ValidationFailed naming `file` or `mapping` with what to fix. What the mapping must contain is the
    caller's rule."""
    try:
        fmt = detect_format(source)
    except FileRejected as exc:
        raise ValidationFailed(str(exc), fields={"file": [str(exc)]}) from exc
    try:
        resolved = validate_mapping(mapping or suggest_mapping(fmt.header), fmt.header)
    except ValueError as exc:
        raise ValidationFailed(str(exc), fields={"mapping": [str(exc)]}) from exc
    return fmt, resolved


def count_lines(source: Source) -> int:
    """Lines in the file, read in 1 MB blocks (a quoted newline counts too: it is an estimate)."""
    lines = 0
    with source.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
    return max(lines, 1)


def check_size(size: int) -> None:
    """PayloadTooLarge (413) for a file over UPLOAD_MAX_BYTES, saying how big it is and what to do."""
    if size > settings.UPLOAD_MAX_BYTES:
        raise PayloadTooLarge(
            f"The file is {size / 1_048_576:,.1f} MB; the limit is "
            f"{settings.UPLOAD_MAX_BYTES / 1_048_576:,.0f} MB. Split it into smaller files."
        )


def mapping_page_context(source: Source, fmt: CsvFormat, form) -> dict:
    """What the column-mapping step shows (templates/components/_column_mapping.html): the file's first rows and
    one select per column."""
    return {
        "header": fmt.header,
        "rows": preview_rows(source, fmt),
        "mapping_rows": form.mapping_rows(),
        "encoding": fmt.encoding,
        "delimiter": DELIMITER_NAMES[fmt.delimiter],
    }
