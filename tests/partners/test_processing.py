from pathlib import Path

import pytest
from django.conf import settings

from cursive.errors import ValidationFailed
from marketplace.models import Listing
from partners.models import Upload, UploadedLead, UploadError
from partners.services import upload_approve, upload_process

from .conftest import csv_text, person, upload_bytes

pytestmark = pytest.mark.django_db


def errors_of(upload):
    return list(UploadError.objects.filter(upload=upload).order_by("row", "id").values_list("row", "field", "message"))


def assert_nothing_listed():
    assert not Listing.objects.exists()


def test_a_clean_file_is_staged_for_review_then_listed(partner):
    upload = upload_bytes(partner, csv_text([person(i) for i in range(1, 6)]).encode())
    assert upload.status == Upload.Status.AWAITING_REVIEW
    assert (upload.total_rows, upload.valid_rows, upload.duplicate_rows, upload.invalid_rows) == (5, 5, 0, 0)
    assert upload.progress == 100
    assert_nothing_listed()
    upload_approve(upload_id=upload.pk, actor=None, note="Looks good")
    listings = Listing.objects.order_by("id")
    assert listings.count() == 5
    first = listings.first()
    assert (first.partner_id, first.price, first.phone, first.status) == (partner.workspace.pk, 5, "+14155552001", "available")
    assert first.revenue_share_percent == 70 and 0 < first.quality <= 100
    assert not UploadedLead.objects.exists(), "staged rows go once listed"


def refused(partner, content: bytes, **options) -> ValidationFailed:
    """A file judged unusable from its first lines: a 400 at upload, nothing stored, nothing listed."""
    with pytest.raises(ValidationFailed) as refusal:
        upload_bytes(partner, content, **options)
    assert not Upload.objects.exists()
    assert not any((Path(settings.MEDIA_ROOT) / "uploads").rglob("*.csv"))
    assert_nothing_listed()
    return refusal.value


def test_empty_file(partner):
    assert refused(partner, b"").fields == {"file": ["The file is empty."]}


def test_header_only(partner):
    upload = upload_bytes(partner, b"first_name,last_name,email\n")
    assert upload.status == Upload.Status.FAILED
    assert upload.failure_message == "The file has a header row but no leads under it."
    assert (upload.total_rows, upload.valid_rows) == (0, 0) and errors_of(upload) == []
    assert_nothing_listed()


def test_binary_garbage(partner):
    assert "binary data" in refused(partner, bytes(range(256)) * 40, name="photo.csv").fields["file"][0]


def test_wrong_columns(partner):
    refusal = refused(partner, b"animal,colour\ncat,black\ndog,brown\n")
    assert refusal.message.startswith("No column holds email addresses or phone numbers (columns found: animal, colour)")
    assert list(refusal.fields) == ["mapping"]


def test_a_50_mb_single_line(partner, tmp_path):
    assert "first line is longer than 64 KB" in refused(partner, b"a" * (50 * 1024 * 1024)).message


def test_a_file_spoilt_on_disk_before_processing_fails_clearly(partner):
    upload = upload_bytes(partner, csv_text([person(1)]).encode(), process=False)
    Path(upload.file.path).write_bytes(b"")
    upload_process(upload_id=upload.pk)
    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED and upload.failure_message == "The file is empty."
    assert errors_of(upload) == []
    assert_nothing_listed()


def test_formula_cells_are_stored_as_text_and_escaped_on_export(partner):
    rows = [person(1, first_name="=CMD()", title="+SUM(A1)", company_name="@evil"), person(2, last_name="-2+3")]
    upload = upload_bytes(partner, csv_text(rows).encode())
    assert upload.valid_rows == 2
    upload_approve(upload_id=upload.pk, actor=None)
    stored = Listing.objects.get(email="ann1@company1.example")
    assert (stored.first_name, stored.title, stored.company_name) == ("=CMD()", "+SUM(A1)", "@evil")
    from leads.export import queryset_csv

    exported = "".join(queryset_csv(Listing.objects.filter(pk=stored.pk)))
    assert "'=CMD()" in exported and "'+SUM(A1)" in exported and "'@evil" in exported


def test_ten_thousand_copies_of_one_row(partner, settings):
    settings.UPLOAD_CHUNK_ROWS = 3000  # duplicates across chunks too
    upload = upload_bytes(partner, csv_text([person(1)] * 10_000).encode())
    assert (upload.total_rows, upload.valid_rows, upload.duplicate_rows, upload.invalid_rows) == (10_000, 1, 9_999, 0)
    upload_approve(upload_id=upload.pk, actor=None)
    assert Listing.objects.count() == 1


def test_per_row_errors_with_row_numbers_fields_and_messages(partner):
    rows = [
        person(1),
        person(2, email="not-an-email", phone=""),
        person(3, phone="123"),
        person(4, email="ann4@mailinator.com"),
        person(5, first_name="", last_name=""),
        person(6),
    ]
    upload = upload_bytes(partner, csv_text(rows).encode())
    assert (upload.total_rows, upload.valid_rows, upload.invalid_rows) == (6, 2, 4)
    assert errors_of(upload) == [
        (2, "email", "This is not a valid email address."),
        (3, "phone", "This is not a valid phone number."),
        (4, "email", "This is a disposable (throwaway) email address."),
        (5, "first_name", "A lead needs a first or last name."),
    ]


def test_rows_with_extra_cells_are_reported(partner):
    text = csv_text([person(1)]) + "Bob,Ray,bob@x.example,,CEO,Acme,surprise,extra\n"
    upload = upload_bytes(partner, text.encode())
    assert upload.valid_rows == 1 and upload.invalid_rows == 1
    assert errors_of(upload) == [(2, "row", "This row has 8 cells, the header has 6.")]


def test_a_row_with_many_extra_cells_fails_that_row_only(partner):
    text = csv_text([person(1), person(2) + ["x"] * 40, person(3)]) + ",".join(person(4)) + ",,,\n"
    upload = upload_bytes(partner, text.encode())
    assert upload.status == Upload.Status.AWAITING_REVIEW, upload.failure_message
    assert (upload.total_rows, upload.valid_rows, upload.invalid_rows) == (4, 3, 1)
    assert errors_of(upload) == [(2, "row", "This row has 46 cells, the header has 6.")]


def test_cp1252_is_read_as_cp1252_not_latin_1(partner):
    rows = [person(1, last_name="O\u2019Neil", company_name="Caf\u00e9 \u201cM\u00fcller\u201d \u2013 \u20ac"), person(2)]
    upload = upload_bytes(partner, csv_text(rows).encode("cp1252"))
    assert upload.valid_rows == 2, errors_of(upload)
    staged = UploadedLead.objects.get(upload=upload, row=1)
    assert (staged.last_name, staged.company_name) == ("O\u2019Neil", "Caf\u00e9 \u201cM\u00fcller\u201d \u2013 \u20ac")


def test_cp1252_after_the_first_block_is_still_detected(partner):
    rows = [person(i) for i in range(1, 6000)] + [person(6000, last_name="O\u2019Neil")]
    data = csv_text(rows).encode("cp1252")
    assert len(data) > 256 * 1024 and b"\x92" not in data[: 256 * 1024]
    upload = upload_bytes(partner, data)
    assert UploadedLead.objects.get(upload=upload, row=6000).last_name == "O\u2019Neil"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_read(partner, encoding):
    rows = [person(1, first_name="Zo\u00eb", company_name="\u6771\u4eac Caf\u00e9"), person(2)]
    data = csv_text(rows, sep="\t").encode(encoding)
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    upload = upload_bytes(partner, bom + data)
    assert upload.valid_rows == 2, (upload.failure_message, errors_of(upload))
    staged = UploadedLead.objects.get(upload=upload, row=1)
    assert (staged.first_name, staged.company_name) == ("Zo\u00eb", "\u6771\u4eac Caf\u00e9")


@pytest.mark.parametrize("encoding,sep,bom", [("utf-8", ",", False), ("utf-8", ";", True), ("latin-1", "\t", False)])
def test_encodings_and_delimiters(partner, encoding, sep, bom):
    rows = [person(1, first_name="Zoë", company_name="Café Müller"), person(2)]
    data = csv_text(rows, sep=sep).encode(encoding)
    upload = upload_bytes(partner, (b"\xef\xbb\xbf" if bom else b"") + data)
    assert upload.valid_rows == 2, errors_of(upload)
    staged = UploadedLead.objects.get(upload=upload, row=1)
    assert (staged.first_name, staged.company_name) == ("Zoë", "Café Müller")


def test_quoted_newlines_keep_row_numbers_right(partner):
    text = 'first_name,last_name,email,title\nAnn,Lee,ann@a.example,"VP\nof Sales"\nBob,Ray,broken,"CEO"\n'
    upload = upload_bytes(partner, text.encode())
    assert upload.total_rows == 2
    assert UploadedLead.objects.get(upload=upload).title == "VP of Sales"
    assert errors_of(upload) == [(2, "email", "This is not a valid email address.")]


def test_header_variants_are_recognised_and_mapping_can_be_fixed(partner):
    text = (
        "First Name,Surname,E-mail,Phone Number,Job Title,Company Name,LinkedIn,Website\n"
        "Ann,Lee,ann@a.example,(415) 555-2671,CTO,Acme,https://www.linkedin.com/in/annlee,acme.com\n"
    )
    upload = upload_bytes(partner, text.encode())
    lead = UploadedLead.objects.get(upload=upload)
    assert (
        lead.first_name,
        lead.last_name,
        lead.email,
        lead.phone,
        lead.title,
        lead.company_name,
        lead.linkedin_url,
        lead.company_domain,
    ) == ("Ann", "Lee", "ann@a.example", "+14155552671", "CTO", "Acme", "https://www.linkedin.com/in/annlee", "acme.com")
    odd = "Nombre,Correo\nAnn,ann@b.example\n"
    fixed = upload_bytes(partner, odd.encode(), mapping={"Nombre": "first_name", "Correo": "email"})
    assert fixed.valid_rows == 1


def test_a_bad_mapping_fails_clearly(partner):
    refusal = refused(partner, b"Name,Mail\nAnn,ann@a.example\n", mapping={"Mail": "email", "Nope": "first_name"})
    assert "no column named Nope" in refusal.fields["mapping"][0]


def test_duplicates_against_the_marketplace(partner, tenant_factory):
    first = upload_bytes(partner, csv_text([person(1), person(2)]).encode())
    upload_approve(upload_id=first.pk, actor=None)
    second = upload_bytes(partner, csv_text([person(2), person(3)]).encode())
    assert (second.valid_rows, second.duplicate_rows) == (1, 1)


def test_trusted_partners_are_listed_at_once(partner):
    from partners.services import partner_profile_ensure

    profile = partner_profile_ensure(workspace=partner.workspace)
    profile.trusted = True
    profile.revenue_share_percent = 80
    profile.save()
    upload = upload_bytes(partner, csv_text([person(1)]).encode())
    assert upload.status == Upload.Status.LISTED and upload.listed_rows == 1
    assert Listing.objects.get().revenue_share_percent == 80


def test_the_same_email_with_another_phone_or_none_is_a_duplicate(partner):
    rows = [person(1), person(2), person(1, phone=""), person(2, phone="(212) 555-0199")]
    upload = upload_bytes(partner, csv_text(rows).encode())
    assert (upload.total_rows, upload.valid_rows, upload.duplicate_rows) == (4, 2, 2)
    upload_approve(upload_id=upload.pk, actor=None, note="")
    again = upload_bytes(partner, csv_text([person(1, phone="(646) 555-0100")]).encode())
    assert (again.valid_rows, again.duplicate_rows) == (0, 1), "already listed under that email"
    assert Listing.objects.count() == 2
