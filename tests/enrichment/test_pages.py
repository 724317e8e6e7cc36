"""The batch enrichment pages: list, upload (drop zone), column mapping, the detail page through its states
(matching, the free preview and quote, confirm/cancel, progress, download, failed, cancelled, expired) and
tenancy. Data goes through the real services; matching and the result file run as the worker runs them."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from credits.models import CreditTransaction
from credits.selectors import credit_balance
from credits.services import credits_grant
from enrichment import services
from enrichment.models import Enrichment
from leads.models import Lead
from leads.services import lead_create

from .conftest import make_person

pytestmark = pytest.mark.django_db

HEADER = ["Contact", "Mobile", "First Name", "Last Name", "Job Title"]


@pytest.fixture
def lead_database(tenant):
    """Three people the list matches (by email, by email, by phone) and one the workspace already owns."""
    by_email = make_person(title="Chief Revenue Officer")
    other = make_person()
    by_phone = make_person(email="", phone="+12125550147", title="VP Operations")
    owned = make_person()
    lead_create(workspace=tenant.workspace, source="manual", data={"email": owned.email, "first_name": "Mine"})
    return {"by_email": by_email, "other": other, "by_phone": by_phone, "owned": owned}


def list_csv(people: dict) -> bytes:
    """A buyer's list: "Contact" holds emails under a header nobody would guess, "Mobile" phone numbers."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerow([people["by_email"].email, "", "Ada", "Lovelace", ""])
    writer.writerow([people["other"].email, "", "Bob", "Other", ""])
    writer.writerow(["", "(212) 555-0147", "Cy", "Phone", ""])
    writer.writerow(["nobody@nowhere.example", "", "No", "Match", ""])
    writer.writerow(["", "", "", "", "Just a title"])
    writer.writerow([people["owned"].email, "", "Mine", "Already", ""])
    return out.getvalue().encode()


def start(client, content: bytes, name: str = "attendees.csv"):
    return client.post("/enrichment/new/", {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def mapped(**by_column) -> dict:
    return {f"col_{HEADER.index(column)}": field for column, field in by_column.items()}


HAND_MAPPING = mapped(Contact="email", Mobile="phone", **{"First Name": "first_name", "Last Name": "last_name"})


def create_through_pages(client, people) -> Enrichment:
    token_url = start(client, list_csv(people)).url
    response = client.post(token_url, HAND_MAPPING)
    enrichment = Enrichment.objects.latest("id")
    assert response.status_code == 302 and response.url == f"/enrichment/{enrichment.pk}/"
    return enrichment


def matched(client, people) -> Enrichment:
    enrichment = create_through_pages(client, people)
    services.enrichment_match(enrichment_id=enrichment.pk)
    enrichment.refresh_from_db()
    assert enrichment.status == Enrichment.Status.AWAITING_CONFIRMATION
    return enrichment


def report_of(html: str) -> str:
    return html[html.index('id="enrichment-report"') :]


@pytest.fixture
def buyer(client, tenant):
    tenant.browser_client(client)
    return client


def test_the_list_explains_enrichment_when_empty_and_is_in_the_main_navigation(buyer):
    page = buyer.get("/enrichment/").content.decode()
    assert 'data-testid="enrichment-empty"' in page
    assert "The preview is free" in page and "0.20 credits per new match" in page
    assert page.count('href="/enrichment/new/"') == 2  # the header's button and the empty state's
    assert re.search(r'<a href="/enrichment/" class="active">Enrichment</a>', page)
    assert re.search(r'<a href="/enrichment/" class="">Enrichment</a>', buyer.get("/leads/").content.decode())


def test_the_list_shows_each_enrichment_newest_first(buyer, lead_database, django_assert_max_num_queries):
    first = matched(buyer, lead_database)
    second = create_through_pages(buyer, lead_database)
    with django_assert_max_num_queries(12):
        page = buyer.get("/enrichment/").content.decode()
    rows = re.findall(r'<tr data-testid="enrichment-row">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    assert f"/enrichment/{second.pk}/" in rows[0] and "Queued" in rows[0]
    assert f"/enrichment/{first.pk}/" in rows[1] and "Preview ready" in rows[1]
    assert f"{first.credits_quote:.2f} quoted" in rows[1]
    assert 'class="card table-wrap p-0"' in page and "wide-table" in page  # scrolls sideways on a phone


def test_the_upload_page_is_the_shared_drop_zone_with_the_size_limit(buyer, settings, partner_client):
    settings.UPLOAD_MAX_BYTES = 3 * 1_048_576
    page = buyer.get("/enrichment/new/").content.decode()
    assert "up to 3 MB" in page
    assert f'data-dropzone data-max-bytes="{3 * 1_048_576}"' in page
    assert "/static/js/dropzone.js" in page and "data-dropzone-busy" in page
    partner_page = partner_client.get("/partner/uploads/new/").content.decode()
    assert f'data-dropzone data-max-bytes="{3 * 1_048_576}"' in partner_page and "/static/js/dropzone.js" in partner_page


@pytest.fixture
def partner_client(tenant_factory):
    from accounts.models import Workspace

    partner = tenant_factory("Northwind Data", kind=Workspace.Kind.PARTNER)
    return partner.browser_client(Client())


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x00\x01\x02binary", "not a text CSV file (it contains binary data)"),
        (b",,\na,b,c\n", "The first line is empty"),
        (b"", "The submitted file is empty."),
    ],
)
def test_an_unreadable_file_is_refused_at_once_with_no_draft_left(buyer, settings, tmp_path, content, words):
    settings.MEDIA_ROOT = tmp_path
    response = start(buyer, content)
    assert response.status_code == 200
    errors = re.search(r'data-testid="file-errors">(.*?)</ul>', response.content.decode(), re.S).group(1)
    assert words.lower() in errors.lower()
    assert not list((tmp_path / "drafts").glob("*.csv"))
    assert not Enrichment.objects.exists()


def test_a_file_over_the_limit_is_refused_with_the_limit_stated(buyer, settings):
    settings.UPLOAD_MAX_BYTES = 100
    response = start(buyer, b"email\n" + b"a@b.example\n" * 20)
    assert response.status_code == 200
    assert "the limit is 0 MB" in response.content.decode() or "Split it into smaller files" in response.content.decode()
    assert not Enrichment.objects.exists()


def test_mapping_shows_the_first_rows_and_guesses_and_a_column_is_mapped_by_hand(buyer, lead_database):
    response = start(buyer, list_csv(lead_database))
    assert response.status_code == 302 and re.fullmatch(r"/enrichment/new/[\w-]+/", response.url)
    page = buyer.get(response.url).content.decode()
    assert "Check the columns" in page and "“attendees.csv” (utf-8, comma separated)" in page
    assert lead_database["by_email"].email in page  # the first rows
    assert '<option value="first_name" selected>' in page and '<option value="phone" selected>' in page  # guessed
    contact = re.search(r'<select name="col_0".*?</select>', page, re.S).group(0)
    assert '<option value="" selected>— ignore —</option>' in contact  # "Contact" is not guessed
    assert 'class="mapping-grid"' in page and 'class="card table-wrap"' in page

    done = buyer.post(response.url, HAND_MAPPING)
    enrichment = Enrichment.objects.get()
    assert done.url == f"/enrichment/{enrichment.pk}/"
    assert enrichment.mapping == {"Contact": "email", "Mobile": "phone", "First Name": "first_name", "Last Name": "last_name"}
    assert enrichment.original_name == "attendees.csv" and enrichment.status == Enrichment.Status.QUEUED
    assert buyer.get(response.url).url == "/enrichment/new/"  # the draft is used up


def test_a_mapping_that_cannot_match_anything_says_why_on_the_form(buyer, lead_database):
    url = start(buyer, list_csv(lead_database)).url
    response = buyer.post(url, mapped(**{"First Name": "first_name", "Job Title": "title"}))
    assert response.status_code == 200
    page = response.content.decode()
    problem = services.mapping_problem({"first_name", "title"})
    assert 'class="form-errors"' in page and problem in page
    assert "Columns found" not in page  # the form said it, before the file went to the service
    assert not Enrichment.objects.exists()
    twice = buyer.post(url, mapped(Contact="email", Mobile="email"))
    assert "Email is chosen twice" in twice.content.decode()


def test_matching_shows_a_live_progress_bar_that_stops_polling_at_the_preview(buyer, lead_database):
    enrichment = create_through_pages(buyer, lead_database)
    page = buyer.get(f"/enrichment/{enrichment.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in page and 'data-testid="progress-bar" data-progress="0"' in page
    assert "Waiting for a worker" in page

    services.enrichment_match(enrichment_id=enrichment.pk)
    partial = buyer.get(f"/enrichment/{enrichment.pk}/", HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert html.lstrip().startswith('<div id="enrichment-report"') and "<html" not in html
    assert "hx-trigger" not in html and "Preview ready" in html
    assert "HX-Request" in partial["Vary"]


def test_the_preview_shows_counts_fills_and_the_exact_quote_against_the_balance(buyer, tenant, lead_database):
    enrichment = matched(buyer, lead_database)
    counts = (enrichment.total_rows, enrichment.matched_rows, enrichment.already_owned_rows, enrichment.unusable_rows)
    assert counts == (6, 4, 1, 1)
    assert enrichment.billable_rows == 3 and enrichment.credits_quote == Decimal("0.60")
    page = report_of(buyer.get(f"/enrichment/{enrichment.pk}/").content.decode())
    assert re.search(r'data-testid="total-rows">6<', page) and re.search(r'data-testid="matched-rows">4<', page)
    assert re.search(r'data-testid="owned-rows">1<', page) and re.search(r'data-testid="unusable-rows">1<', page)
    assert re.search(r"Email</span><strong[^>]*>3<", page) and re.search(r"Phone</span><strong[^>]*>1<", page)
    assert re.search(r"<strong>Title</strong> for 3 of 3", page)  # none of the list's rows had a title
    assert re.search(r"No match</span><strong[^>]*>1<", page)
    assert "0.20</span> credits per row × <strong>3</strong> new matches" in page
    assert 'data-testid="credits-quote">0.60<' in page
    assert 'data-testid="balance">0.00<' in page
    short = re.search(r'data-testid="short">(.*?)</p>', page, re.S).group(1)
    assert "0.60 credits short" in short and 'href="/credits/"' in short
    assert f'action="/enrichment/{enrichment.pk}/confirm/"' in page and 'name="max_credits"' in page
    assert 'data-confirm="Cancel this enrichment?' in page
    assert 'class="grid grid-3 my-1"' in page and 'class="grid grid-2 my-1"' in page  # one column on a phone

    credits_grant(workspace=tenant.workspace, amount="10", reference="test:grant")
    page = report_of(buyer.get(f"/enrichment/{enrichment.pk}/").content.decode())
    assert 'data-testid="short"' not in page and 'data-testid="balance">10.00<' in page


@pytest.fixture
def csrf_buyer(tenant):
    client = Client(enforce_csrf_checks=True)
    tenant.browser_client(client)
    return client


def csrf_token(client, url: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(url).content.decode()).group(1)


def test_confirm_through_the_page_charges_the_quote_once_then_the_file_downloads(buyer, csrf_buyer, tenant, lead_database):
    credits_grant(workspace=tenant.workspace, amount="10", reference="test:grant")
    enrichment = matched(buyer, lead_database)
    url = f"/enrichment/{enrichment.pk}/"
    assert csrf_buyer.post(f"{url}confirm/", {"max_credits": ""}).status_code == 403  # no CSRF token: refused
    token = csrf_token(csrf_buyer, url)
    response = csrf_buyer.post(f"{url}confirm/", {"max_credits": "", "csrfmiddlewaretoken": token}, follow=True)
    assert response.redirect_chain == [(url, 302)]
    page = response.content.decode()
    assert "Confirmed: 3 new leads for 0.60 credits." in page
    assert 'hx-trigger="every 1s"' in page and "Writing the enriched file" in page
    assert credit_balance(workspace=tenant.workspace) == Decimal("9.40")

    again = csrf_buyer.post(f"{url}confirm/", {"max_credits": "", "csrfmiddlewaretoken": token}, follow=True)
    assert "already confirmed; nothing more was charged" in again.content.decode()
    assert CreditTransaction.objects.filter(reference=enrichment.reference).count() == 1
    assert credit_balance(workspace=tenant.workspace) == Decimal("9.40")

    services.enrichment_build_result(enrichment_id=enrichment.pk)
    page = buyer.get(url).content.decode()
    assert 'hx-trigger="every 1s"' not in page and 'data-testid="download"' in page
    assert "Enriched <strong>3</strong> of 6 rows for <strong>0.60</strong> credits" in page
    download = buyer.get(f"{url}download")
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == 'attachment; filename="attendees-enriched.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert [row["Contact"] for row in rows] == [
        lead_database["by_email"].email,
        lead_database["other"].email,
        "",
        "nobody@nowhere.example",
        "",
        lead_database["owned"].email,
    ]
    assert rows[0]["title"] == "Chief Revenue Officer" and rows[2]["title"] == "VP Operations"
    assert Lead.objects.filter(workspace=tenant.workspace, source="enrichment").count() == 3


def test_a_cap_on_the_page_enriches_the_best_matches_up_to_it(buyer, tenant, lead_database):
    credits_grant(workspace=tenant.workspace, amount="10", reference="test:grant")
    enrichment = matched(buyer, lead_database)
    buyer.post(f"/enrichment/{enrichment.pk}/confirm/", {"max_credits": "0.40"})
    enrichment.refresh_from_db()
    assert (enrichment.max_credits, enrichment.enriched_rows, enrichment.credits_charged) == (Decimal("0.40"), 2, Decimal("0.40"))


def test_service_refusals_show_on_the_confirm_form_and_charge_nothing(buyer, tenant, lead_database):
    enrichment = matched(buyer, lead_database)
    short = buyer.post(f"/enrichment/{enrichment.pk}/confirm/", {"max_credits": ""})
    assert short.status_code == 200
    errors = re.search(r'<div class="form-errors" role="alert">(.*?)</div></div>', short.content.decode(), re.S).group(1)
    assert "This needs 0.60 credits and the balance is 0.00" in errors

    credits_grant(workspace=tenant.workspace, amount="10", reference="test:grant")
    too_small = buyer.post(f"/enrichment/{enrichment.pk}/confirm/", {"max_credits": "0.10"})
    assert too_small.status_code == 200 and "At least 0.20." in too_small.content.decode()
    not_a_number = buyer.post(f"/enrichment/{enrichment.pk}/confirm/", {"max_credits": "lots"})
    assert not_a_number.status_code == 200 and "Enter a number." in not_a_number.content.decode()
    enrichment.refresh_from_db()
    assert enrichment.status == Enrichment.Status.AWAITING_CONFIRMATION
    assert not CreditTransaction.objects.filter(reference=enrichment.reference).exists()


def test_cancel_through_the_page_charges_nothing_and_says_so(csrf_buyer, buyer, tenant, lead_database):
    credits_grant(workspace=tenant.workspace, amount="10", reference="test:grant")
    enrichment = matched(buyer, lead_database)
    url = f"/enrichment/{enrichment.pk}/"
    token = csrf_token(csrf_buyer, url)
    assert csrf_buyer.post(f"{url}cancel/").status_code == 403
    response = csrf_buyer.post(f"{url}cancel/", {"csrfmiddlewaretoken": token}, follow=True)
    page = response.content.decode()
    assert "Cancelled “attendees.csv”. Nothing was charged." in page and 'data-testid="cancelled"' in page
    assert 'hx-trigger="every 1s"' not in page and 'data-testid="quote"' not in page
    assert credit_balance(workspace=tenant.workspace) == Decimal("10.00")

    late = csrf_buyer.post(f"{url}confirm/", {"csrfmiddlewaretoken": token}, follow=True)
    assert late.status_code == 200 and "only a list whose matches are ready" in late.content.decode()
    assert credit_balance(workspace=tenant.workspace) == Decimal("10.00")


def test_cancel_after_confirming_is_refused_with_a_message_not_an_error(buyer, tenant, lead_database):
    credits_grant(workspace=tenant.workspace, amount="10", reference="test:grant")
    enrichment = matched(buyer, lead_database)
    buyer.post(f"/enrichment/{enrichment.pk}/confirm/", {})
    response = buyer.post(f"/enrichment/{enrichment.pk}/cancel/", follow=True)
    assert response.status_code == 200 and "only one not yet confirmed can be cancelled" in response.content.decode()


def test_a_download_before_the_file_is_ready_goes_back_to_the_page_with_a_message(buyer, lead_database):
    enrichment = matched(buyer, lead_database)
    response = buyer.get(f"/enrichment/{enrichment.pk}/download", follow=True)
    assert response.redirect_chain == [(f"/enrichment/{enrichment.pk}/", 302)]
    assert "its file can be downloaded once complete" in response.content.decode()


def test_expired_results_say_so_and_no_longer_download(buyer, tenant, lead_database):
    credits_grant(workspace=tenant.workspace, amount="10", reference="test:grant")
    enrichment = matched(buyer, lead_database)
    buyer.post(f"/enrichment/{enrichment.pk}/confirm/", {})
    services.enrichment_build_result(enrichment_id=enrichment.pk)
    Enrichment.objects.filter(pk=enrichment.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    services.enrichments_expire()
    page = buyer.get(f"/enrichment/{enrichment.pk}/").content.decode()
    assert 'data-testid="result-expired"' in page and 'data-testid="download"' not in page
    response = buyer.get(f"/enrichment/{enrichment.pk}/download", follow=True)
    assert "deleted after the retention period" in response.content.decode()


def test_a_failed_enrichment_says_what_happened(buyer, lead_database):
    enrichment = create_through_pages(buyer, lead_database)
    # What a worker records when the stored file turns out unreadable halfway (services._fail).
    Enrichment.objects.filter(pk=enrichment.pk).update(
        status=Enrichment.Status.FAILED, failure_message="Row 4 could not be decoded as UTF-8."
    )
    page = buyer.get(f"/enrichment/{enrichment.pk}/").content.decode()
    failure = re.search(r'data-testid="failure">(.*?)</div>', page, re.S).group(1)
    assert "Row 4 could not be decoded as UTF-8." in failure and "Nothing was charged." in failure
    assert 'hx-trigger="every 1s"' not in page


def test_another_workspaces_enrichment_is_404_on_every_page(buyer, client, other_tenant, tenant, lead_database):
    enrichment = matched(buyer, lead_database)
    draft_url = start(buyer, list_csv(lead_database)).url
    intruder = other_tenant.browser_client(Client())
    for method, path in [
        ("get", f"/enrichment/{enrichment.pk}/"),
        ("post", f"/enrichment/{enrichment.pk}/confirm/"),
        ("post", f"/enrichment/{enrichment.pk}/cancel/"),
        ("get", f"/enrichment/{enrichment.pk}/download"),
    ]:
        assert getattr(intruder, method)(path).status_code == 404, path
    assert intruder.get(draft_url).url == "/enrichment/new/"  # someone else's draft is not there
    assert intruder.get("/enrichment/").content.decode().count('data-testid="enrichment-row"') == 0
    enrichment.refresh_from_db()
    assert enrichment.status == Enrichment.Status.AWAITING_CONFIRMATION


def test_pages_need_a_login(client):
    for path in ("/enrichment/", "/enrichment/new/", "/enrichment/1/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/login/"), path
