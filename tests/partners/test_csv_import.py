"""Property tests of the partner CSV reader: whatever the bytes, it answers with a format and rows, or with
FileRejected (a problem of the whole file); a problem of one row is that row's error, never an exception."""

import codecs
import csv
import io
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cursive.errors import ValidationFailed
from leads.csv_import import DELIMITERS, FileRejected, detect_format, read_rows
from partners.models import Upload, UploadError

from .conftest import upload_bytes

PROPERTIES = settings(max_examples=150, deadline=None, derandomize=True, database=None)
BOMS = [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE]
# Written as partners' tools write them; "utf-16" is Python's, with its own BOM.
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"]
BOM_FOR = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
CP1252_CHARACTERS = "éüñçÀ’‘“”–—€…"
UNICODE_CHARACTERS = CP1252_CHARACTERS + "東京ßøŁ😀\u2028"
HEADER_NAMES = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)
ANY_HEADERS = st.lists(HEADER_NAMES, min_size=2, max_size=6, unique_by=str.lower)
# Headers the upload maps by itself, email among them.
LEAD_HEADERS = st.permutations(["Email", "First Name", "Last Name", "Phone", "Title", "Company"]).map(
    lambda names: names[:3] if "Email" in names[:3] else ["Email", *names[:2]]
)


def _file(data: bytes) -> Path:
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as handle:
        handle.write(data)
    return Path(handle.name)


def _read(data: bytes):
    """detect_format then every row, as the upload does; FileRejected is the only exception allowed out."""
    path = _file(data)
    try:
        fmt = detect_format(path)
        mapping = {fmt.header[0]: "email"} if fmt.header[0] else {}
        return fmt, list(read_rows(path, fmt, mapping))
    finally:
        path.unlink()


@PROPERTIES
@given(prefix=st.sampled_from(BOMS), body=st.binary(max_size=3000))
def test_random_bytes_give_a_format_and_rows_or_file_rejected(prefix, body):
    try:
        fmt, rows = _read(prefix + body)
    except FileRejected as exc:
        assert str(exc)
        return
    assert fmt.delimiter in DELIMITERS and any(fmt.header)
    assert [row.number for row in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert row.error or all(isinstance(value, str) and "\x00" not in value for value in row.values.values())


@st.composite
def tables(draw, headers=ANY_HEADERS):
    """A header, ragged rows of awkward cells, written by csv.writer in some encoding, delimiter and quoting,
    with blank lines between rows."""
    encoding = draw(st.sampled_from(ENCODINGS))
    delimiter = draw(st.sampled_from(DELIMITERS))
    terminator = draw(st.sampled_from(["\r\n", "\n"]))
    extra = CP1252_CHARACTERS if encoding == "cp1252" else UNICODE_CHARACTERS
    # csv.writer leaves a lone CR unquoted when lines end in LF alone, so such files cannot hold one.
    breaks = "\r\n" if terminator == "\r\n" else "\n"
    cell = st.text(alphabet=string.ascii_letters + string.digits + " .@+-'\"" + "".join(DELIMITERS) + breaks + extra, max_size=12)
    # Some real contact details, so some rows are leads and some duplicates.
    cell = st.one_of(
        cell,
        st.sampled_from(
            [
                "ann@lee.example",
                "Bob@Ray.example",
                " ann@lee.example ",
                "Ann",
                "(415) 555-0101",
                "+1 415 555 0102",
                "=cmd|' /C calc'!A0",
            ]
        ),
    )
    header = draw(headers)
    width = len(header)
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=width + 3), max_size=25))
    blank_after = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(header)
    for row, blank in zip(rows, blank_after, strict=True):
        writer.writerow(row)
        if blank:
            buffer.write(terminator)
    data = BOM_FOR.get(encoding, b"") + buffer.getvalue().encode(encoding)
    if encoding == "cp1252":
        # A few cp1252 byte runs are valid UTF-8 too ("é’’"); such a file is UTF-8 to any reader.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            assume(data.isascii())
    return data, delimiter, header, rows


@PROPERTIES
@given(table=tables())
def test_written_tables_read_back_cell_for_cell(table):
    data, delimiter, header, rows = table
    fmt, read = _read(data)
    assert (fmt.delimiter, fmt.header) == (delimiter, header)
    # A row of no cells is a blank line: skipped, not counted.
    written = [row for row in rows if row]
    assert [row.number for row in read] == list(range(1, len(written) + 1))
    width = len(header)
    for row, cells in zip(read, written, strict=True):
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            assert row.error == f"This row has {len(cells)} cells, the header has {width}."
        else:
            assert not row.error and row.values == {"email": cells[0] if cells else ""}


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(table=tables(headers=LEAD_HEADERS), noise=st.binary(max_size=200))
def test_any_upload_is_processed_or_refused_never_an_exception(partner, table, noise):
    """Through the real services: refused at upload (a 400), failed with a message, or rows with errors."""
    data, _, _, _ = table
    for content in (data, data + noise):
        try:
            upload = upload_bytes(partner, content, mapping=None)
        except ValidationFailed as exc:
            assert set(exc.fields) <= {"file", "mapping"}
            continue
        assert upload.status in (Upload.Status.AWAITING_REVIEW, Upload.Status.FAILED)
        if upload.status == Upload.Status.FAILED:
            assert upload.failure_message
        assert upload.total_rows == upload.valid_rows + upload.duplicate_rows + upload.invalid_rows
        assert UploadError.objects.filter(upload=upload).values("row").distinct().count() <= upload.invalid_rows
