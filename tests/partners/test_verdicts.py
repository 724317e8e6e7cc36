"""Each row's verdict, named by the line a person finds it on: the preview before processing and the report after
it come from one rule (partners.services._judge)."""

from pathlib import Path

import pytest

from leads.csv_import import detect_format, suggest_mapping
from partners.models import UploadDuplicate, UploadedLead, UploadError
from partners.services import upload_approve, upload_preview

from .conftest import csv_text, person, upload_bytes

pytestmark = pytest.mark.django_db


def duplicates_of(upload):
    return list(UploadDuplicate.objects.filter(upload=upload).order_by("line").values_list("line", "original_line"))


def errors_by_line(upload):
    return list(UploadError.objects.filter(upload=upload).order_by("row", "id").values_list("row", "line", "message"))


def listed_already(partner, *people):
    upload = upload_bytes(partner, csv_text(list(people)).encode())
    upload_approve(upload_id=upload.pk, actor=None)


# Line 1 is the header. Ann1 is on the marketplace already.
MIXED = [
    person(2),  # line 2: valid
    person(3),  # line 3: valid
    person(2, email="ANN2@COMPANY2.EXAMPLE"),  # line 4: same person as line 2
    person(1),  # line 5: already in Cursive
    person(6, email="not-an-email", phone=""),  # line 6: invalid
    person(3, phone=""),  # line 7: same person as line 3 (by email)
    person(1),  # line 8: same person as line 5 (itself already in Cursive)
]


def test_the_report_names_each_duplicate_and_its_original_by_line(partner):
    listed_already(partner, person(1))
    upload = upload_bytes(partner, csv_text(MIXED).encode())
    assert (upload.total_rows, upload.valid_rows, upload.duplicate_rows, upload.invalid_rows) == (7, 2, 4, 1)
    assert duplicates_of(upload) == [(4, 2), (5, None), (7, 3), (8, 5)]
    assert [d.reason for d in UploadDuplicate.objects.filter(upload=upload).order_by("line")] == [
        "Same person as line 2 of your file.",
        "Already in Cursive.",
        "Same person as line 3 of your file.",
        "Same person as line 5 of your file.",
    ]
    assert errors_by_line(upload) == [(5, 6, "This is not a valid email address.")], "row keeps its meaning, line is new"
    assert sorted(UploadedLead.objects.filter(upload=upload).values_list("row", "line")) == [(1, 2), (2, 3)]


def test_lines_count_blank_lines_and_not_quoted_line_breaks_like_a_spreadsheet(partner):
    text = (
        "first_name,last_name,email,title\n"
        'Ann,Lee,ann@a.example,"VP\nof Sales"\n'  # line 2, over two lines of text
        "\n"  # line 3, blank
        "Bob,Ray,broken,CEO\n"  # line 4
        "Cy,Fox,ANN@a.example,CTO\n"  # line 5
    )
    upload = upload_bytes(partner, text.encode())
    assert errors_by_line(upload) == [(2, 4, "This is not a valid email address.")]
    assert duplicates_of(upload) == [(5, 2)]


def test_a_duplicate_of_a_row_in_an_earlier_chunk_names_the_first_line(partner, settings):
    settings.UPLOAD_CHUNK_ROWS = 2
    rows = [person(1), person(2), person(3), person(1), person(1), person(1)]
    upload = upload_bytes(partner, csv_text(rows).encode())
    assert upload.chunks_done == 3
    assert duplicates_of(upload) == [(5, 2), (6, 2), (7, 2)], "not 'line 7 duplicates line 6': the first line is 2"


def test_the_errors_csv_lists_every_skipped_row_by_line_in_file_order(client, partner):
    listed_already(partner, person(1))
    upload = upload_bytes(partner, csv_text(MIXED).encode())
    client.force_login(partner.user)
    response = client.get(f"/partner/uploads/{upload.pk}/errors.csv")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode().splitlines() == [
        "line,field,problem",
        "4,,Same person as line 2 of your file.",
        "5,,Already in Cursive.",
        "6,email,This is not a valid email address.",
        "7,,Same person as line 3 of your file.",
        "8,,Same person as line 5 of your file.",
    ]


def test_the_upload_page_names_lines_and_duplicates(client, partner):
    listed_already(partner, person(1))
    upload = upload_bytes(partner, csv_text(MIXED).encode())
    client.force_login(partner.user)
    page = client.get(f"/partner/uploads/{upload.pk}/").content.decode()
    assert '<td class="mono">6</td><td class="mono small">email</td><td>This is not a valid email address.</td>' in page
    assert '<td class="mono">4</td><td>Same person as line 2 of your file.</td>' in page
    assert '<td class="mono">5</td><td>Already in Cursive.</td>' in page
    assert "the header is line 1" in page


def test_the_api_keeps_counting_data_rows_from_1(partner):
    upload = upload_bytes(partner, (b"first_name,email\n\nAnn,ann@a.example\nBob,broken\n"))
    report = partner.api().get(f"/api/v1/partner/uploads/{upload.pk}").json()
    assert report["errors"] == [{"row": 2, "field": "email", "message": "This is not a valid email address."}]


def preview(path: Path, mapping=None):
    fmt = detect_format(path)
    return upload_preview(source=path, fmt=fmt, mapping=mapping or suggest_mapping(fmt.header))


def verdicts_of(verdicts):
    return [(verdict.line, verdict.outcome, verdict.reason) for verdict in verdicts]


def test_the_preview_gives_the_verdicts_processing_then_gives(partner, tmp_path):
    listed_already(partner, person(1))
    path = tmp_path / "leads.csv"
    path.write_text(csv_text(MIXED))
    verdicts, stopped = preview(path)
    assert stopped == ""
    assert verdicts_of(verdicts) == [
        (2, "valid", ""),
        (3, "valid", ""),
        (4, "duplicate", "Same person as line 2 of your file."),
        (5, "duplicate", "Already in Cursive."),
        (6, "invalid", "This is not a valid email address."),
        (7, "duplicate", "Same person as line 3 of your file."),
        (8, "duplicate", "Same person as line 5 of your file."),
    ]
    upload = upload_bytes(partner, path.read_bytes())
    processed = sorted(
        [(line, "valid", "") for line in UploadedLead.objects.filter(upload=upload).values_list("line", flat=True)]
        + [(d.line, "duplicate", d.reason) for d in UploadDuplicate.objects.filter(upload=upload)]
        + [(e.line, "invalid", e.message) for e in UploadError.objects.filter(upload=upload)]
    )
    assert processed == verdicts_of(verdicts)


def test_the_preview_reads_only_the_first_rows_and_writes_nothing(partner, tmp_path, django_assert_max_num_queries):
    path = tmp_path / "big.csv"
    path.write_text(csv_text([person(i) for i in range(1, 5001)]))
    with django_assert_max_num_queries(2):  # listed already, erased for privacy: whatever the file's size
        verdicts, _ = preview(path)
    assert [verdict.line for verdict in verdicts] == list(range(2, 22))
    assert not UploadedLead.objects.exists() and not UploadError.objects.exists()


def test_the_preview_shows_the_rows_before_a_line_that_breaks_the_file(tmp_path):
    path = tmp_path / "broken.csv"
    # A quote opened and never closed: the rest of the file is one cell, past what a cell may hold.
    path.write_text(csv_text([person(1), person(2)]) + 'Cy,"Fox,cy@c.example\n' + "x" * 200_000 + "\n")
    verdicts, stopped = preview(path)
    assert [verdict.line for verdict in verdicts] == [2, 3]
    assert stopped.startswith("Line 4 of your file cannot be read")


def test_the_preview_follows_the_mapping(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Nombre,Correo\nAnn,ann@a.example\nBob,broken\n")
    verdicts, _ = preview(path, {"Nombre": "first_name", "Correo": "email"})
    assert verdicts_of(verdicts) == [(2, "valid", ""), (3, "invalid", "This is not a valid email address.")]
