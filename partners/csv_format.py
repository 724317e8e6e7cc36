"""Reading partners' CSVs: encodings, delimiters, header variants, and the checks that reject a file whole."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from leads.services import LEAD_FIELDS

SAMPLE_BYTES = 256 * 1024
# A header longer than this is not a header: the file has no line breaks, or is not a CSV.
MAX_HEADER_BYTES = 64 * 1024

# Normalised header (lowercase, letters and digits only) -> lead field.
_ALIASES = {
    "first_name": ["firstname", "first", "fname", "givenname", "forename"],
    "last_name": ["lastname", "last", "lname", "surname", "familyname"],
    "email": ["email", "emailaddress", "mail", "workemail", "businessemail", "emailid", "contactemail"],
    "phone": ["phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone", "cell", "directphone",
              "workphone", "contactphone", "phoneno"],
    "title": ["title", "jobtitle", "position", "role", "designation"],
    "seniority": ["seniority", "senioritylevel", "level", "managementlevel"],
    "company_name": ["company", "companyname", "organization", "organisation", "account", "accountname",
                     "employer", "businessname"],
    "company_domain": ["domain", "companydomain", "website", "companywebsite", "url", "companyurl", "web"],
    "company_size": ["companysize", "size", "employees", "employeecount", "headcount", "numberofemployees"],
    "industry": ["industry", "sector", "vertical"],
    "city": ["city", "town", "locality"],
    "state": ["state", "province", "region", "stateprovince", "statecode"],
    "zip": ["zip", "zipcode", "postcode", "postalcode"],
    "country": ["country", "countrycode", "nation"],
    "linkedin_url": ["linkedin", "linkedinurl", "linkedinprofile", "linkedinprofileurl", "li", "liurl"],
}
HEADER_ALIASES = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}
_NON_ALNUM = re.compile(r"[^a-z0-9]")


class FileRejected(Exception):
    """The file as a whole cannot be read as a lead CSV; the message says why, for the partner."""


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
    """A mapping from the partner (API or form): known fields, no field twice, headers that exist."""
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


def _decode(sample: bytes) -> tuple[str, str]:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", sample[len(codecs.BOM_UTF8):].decode("utf-8", errors="ignore")
    try:
        # The sample may end inside a multi-byte character: only complain about earlier bytes.
        return "utf-8", codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "latin-1", sample.decode("latin-1")


def detect_format(path: Path) -> CsvFormat:
    """Encoding, delimiter and header of a file, or FileRejected with what is wrong with it."""
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not sample.strip():
        raise FileRejected("The file is empty.")
    if b"\x00" in sample:
        raise FileRejected("This is not a text CSV file (it contains binary data). Export your leads as CSV.")
    first_line_end = sample.find(b"\n")
    if first_line_end == -1 and len(sample) >= MAX_HEADER_BYTES or first_line_end > MAX_HEADER_BYTES:
        raise FileRejected(
            f"The first line is longer than {MAX_HEADER_BYTES // 1024} KB, so it cannot be a header row. "
            "Check that the file is a CSV with one lead per line.")
    encoding, text = _decode(sample)
    header_line = text.splitlines()[0] if text.splitlines() else ""
    counts = {delimiter: header_line.count(delimiter) for delimiter in (",", ";", "\t", "|")}
    delimiter = max(counts, key=counts.get)
    header = next(csv.reader(io.StringIO(header_line), delimiter=delimiter), [])
    header = [column.strip() for column in header]
    if not any(header):
        raise FileRejected("The first line is empty: the file needs a header row naming its columns.")
    return CsvFormat(encoding=encoding, delimiter=delimiter, header=header)


def preview_rows(path: Path, fmt: CsvFormat, limit: int = 5) -> list[list[str]]:
    with open(path, encoding=fmt.encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter)
        next(reader, None)
        rows = []
        for row in reader:
            rows.append([cell[:200] for cell in row])
            if len(rows) >= limit:
                break
    return rows
