"""CSV exports: streamed in pieces from a server-side cursor, escaped, and bounded per server process."""

import csv
import gc
import io

import pytest

from leads import export
from leads.export import escape_cell
from leads.models import Lead
from leads.services import lead_create

pytestmark = pytest.mark.django_db


def make(tenant, count, **data):
    for i in range(count):
        lead_create(
            workspace=tenant.workspace,
            source=Lead.Source.MANUAL,
            data={"email": f"p{i}-{Lead.objects.count()}@lead.example", "first_name": f"P{i}", **data},
        )


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_an_export_streams_in_pieces_with_every_row_escaped(tenant, monkeypatch):
    monkeypatch.setattr(export, "CHUNK_CHARS", 200)
    make(tenant, 30, last_name="=1+1", industry="SaaS")
    response = tenant.api().get("/api/v1/leads/export")
    assert response.status_code == 200 and response.streaming
    pieces = list(response.streaming_content)
    assert len(pieces) > 5, "rows leave as they are read, not as one body"
    rows = list(csv.DictReader(io.StringIO(b"".join(pieces).decode())))
    assert len(rows) == 30
    assert {row["last_name"] for row in rows} == {"'=1+1"}
    assert {row["industry"] for row in rows} == {"SaaS"}
    assert list(rows[0]) == list(export.WORKSPACE_EXPORT_FIELDS)


def test_an_export_runs_the_same_queries_whatever_its_size(tenant, django_assert_max_num_queries):
    api = tenant.api()
    make(tenant, 3)
    rows_of(api.get("/api/v1/leads/export"))  # warms the per-request caches (rate limit row, key lookup)
    with django_assert_max_num_queries(8) as small:
        assert len(rows_of(api.get("/api/v1/leads/export"))) == 3
    make(tenant, 60)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(rows_of(api.get("/api/v1/leads/export"))) == 63


def test_exports_beyond_what_a_process_runs_at_once_are_told_to_retry(tenant, settings, client, django_assert_num_queries):
    settings.EXPORTS_PER_PROCESS = 1
    settings.EXPORTS_QUEUED_PER_PROCESS = 0
    make(tenant, 3)
    api = tenant.api()
    running = api.get("/api/v1/leads/export")
    with django_assert_num_queries(0):  # turned away before authentication: a crowd costs no queries
        busy = api.get("/api/v1/leads/export")
    assert busy.status_code == 429
    assert busy.json()["error"]["code"] == "exports_busy" and busy["Retry-After"] == "5"
    tenant.browser_client(client)
    page = client.get("/leads/export/?industry=SaaS")
    assert page.status_code == 429 and b"Many exports are running" in page.content
    # Other pages are not held back.
    assert api.get("/api/v1/leads").status_code == 200
    # Sent in full, the first export gives its turn to the next.
    assert len(rows_of(running)) == 3
    assert len(rows_of(api.get("/api/v1/leads/export"))) == 3


def test_an_export_that_does_not_stream_gives_its_turn_back_at_once(tenant, settings):
    settings.EXPORTS_PER_PROCESS = 1
    settings.EXPORTS_QUEUED_PER_PROCESS = 0
    api = tenant.api()
    assert api.get("/api/v1/marketplace/purchases/999999/download").status_code == 404
    assert api.get("/api/v1/leads/export?score_min=500").status_code == 400
    assert api.get("/api/v1/leads/export").status_code == 200


def test_an_export_dropped_unread_gives_its_turn_back(tenant, settings):
    settings.EXPORTS_PER_PROCESS = 1
    settings.EXPORTS_QUEUED_PER_PROCESS = 0
    make(tenant, 2)
    api = tenant.api()
    dropped = api.get("/api/v1/leads/export")
    assert dropped.status_code == 200
    del dropped
    gc.collect()
    assert len(rows_of(api.get("/api/v1/leads/export"))) == 2


@pytest.mark.parametrize(
    "phone", ["+14155550101", "+1 (415) 555-0101", "+44 20 7946 0958", "(415) 555-0101", "415.555.0101", "-415-555-0101"]
)
def test_a_phone_number_is_not_a_formula(phone):
    assert escape_cell(phone) == phone


@pytest.mark.parametrize(
    "formula",
    [
        "=1+1",
        "=+14155550101",
        "@SUM(A1)",
        "+SUM(A1)",
        "-2+3",
        "+1",
        "-1",
        "+1 415 555 0101 =cmd",
        "-1)+cmd|' /C calc'!A0",
        "+1-415\n=cmd",
        "\t=1",
        "\r=1",
        "+14155550101\r",
    ],
)
def test_real_formulas_are_still_escaped(formula):
    assert escape_cell(formula) == "'" + formula


def test_plain_text_is_left_alone():
    assert escape_cell("Ann") == "Ann" and escape_cell(None) == "" and escape_cell(["a", "b"]) == "a;b"
