"""Matching, the quote, confirmation, cancellation, the result file and retention, through the real services."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from credits.models import CreditTransaction
from credits.selectors import credit_balance
from cursive.errors import Conflict, ValidationFailed
from cursive.models import Job, OutboxEvent
from enrichment.models import Enrichment, EnrichmentRow
from enrichment.selectors import enrichment_preview, enrichment_result_chunks
from enrichment.services import (
    enrichment_build_result,
    enrichment_cancel,
    enrichment_confirm,
    enrichments_expire,
    enrichments_resume_stale,
    mapping_problem,
)
from enrichment.tasks import send_enrichment_completed
from leads.models import Lead
from leads.services import lead_create

from .conftest import csv_bytes, fund, make_people, make_person, upload

pytestmark = pytest.mark.django_db

HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "Website", "Title"]


def known_list(tenant):
    """1,000 rows: 500 net-new by email, 200 by phone, 100 by name + domain, 50 the workspace owns, 50 repeats of
    earlier rows, 70 that match nobody and 30 without a usable key."""
    by_email = make_people(500, prefix="mail")
    make_people(200, prefix="tel", phone=lambda i: f"+1212555{i:04d}")
    make_people(100, prefix="nm", first_name=lambda i: f"Alexandra{i}", last_name=lambda i: f"Castellano{i}")
    owned = make_people(50, prefix="own")
    for person in owned:
        lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": person.email})
    rows = []
    rows += [["", "", p.email, "", "", "", ""] for p in by_email]
    rows += [["", "", "", f"(212) 555-{i:04d}", "", "", ""] for i in range(200)]
    rows += [[f"Alexandra{i}", f"Castellano{i}", "", "", "", f"www.nm{i}.example", ""] for i in range(100)]
    rows += [["", "", p.email.upper(), "", "", "", ""] for p in owned]
    rows += [["", "", p.email, "", "", "", ""] for p in by_email[:50]]
    rows += [["", "", f"stranger{i}@unknown.example", "", "", "", ""] for i in range(70)]
    rows += [["", "", "not-an-email", "12", "", "", "CEO"] for _ in range(30)]
    assert len(rows) == 1000
    return csv_bytes(HEADER, rows)


def test_a_known_list_gives_exactly_the_expected_counts_and_quote_and_charges_nothing(
    tenant, settings, django_assert_max_num_queries
):
    settings.ENRICHMENT_CHUNK_ROWS = 200
    content = known_list(tenant)
    enrichment = upload(tenant, content, match=False)
    from enrichment.services import enrichment_match

    # Five chunks: a fixed number of queries each, whatever the rows are.
    with django_assert_max_num_queries(5 * 12 + 12):
        enrichment_match(enrichment_id=enrichment.pk)
    enrichment.refresh_from_db()
    assert enrichment.status == Enrichment.Status.AWAITING_CONFIRMATION
    assert enrichment.total_rows == 1000
    assert enrichment.matched_rows == 900
    assert enrichment.already_owned_rows == 50
    assert enrichment.duplicate_rows == 50
    assert enrichment.unusable_rows == 30
    assert enrichment.billable_rows == 800
    assert enrichment.matched_by == {"email": 600, "phone": 200, "linkedin": 0, "name": 100}
    assert enrichment.credits_quote == Decimal("160.00")
    # Every billable row lacked the title; name rows also lacked the email and phone rows both.
    assert enrichment.fills["title"] == 800
    assert enrichment.fills["email"] == 300
    assert "phone" not in enrichment.fills
    assert CreditTransaction.objects.filter(reference=enrichment.reference).count() == 0
    assert Lead.objects.filter(workspace=tenant.workspace).count() == 50
    preview = enrichment_preview(enrichment=enrichment)
    assert ("Email", 600) in preview["by_method"]
    assert ("Title", 800, 800) in preview["fills"]
    assert preview["sample"][0]["row"] == 1 and "Title" in preview["sample"][0]["fills"]


def test_name_matching_reports_its_confidence_and_leaves_namesakes_alone(tenant):
    robert = make_person(first_name="Robert", last_name="Johnston", domain="globex.example", company_name="Globex")
    make_person(first_name="Robert", last_name="Johnston", domain="initech.example", company_name="Initech")
    make_person(first_name="Catherine", last_name="Zeta", domain="hooli.example", company_name="Hooli Incorporated")
    content = csv_bytes(
        ["first", "last", "domain", "company"],
        [
            ["Bob", "Johnston", "globex.example", ""],  # nickname, same domain
            ["Robert", "Johnstno", "https://globex.example/about", ""],  # typo
            ["Catherine", "Zeta", "", "Hooli Inc."],  # company name only, another legal suffix
            ["Mary", "Johnston", "globex.example", ""],  # someone else at that company
            ["Robert", "Johnston", "umbrella.example", ""],  # a namesake elsewhere
        ],
    )
    enrichment = upload(tenant, content)
    rows = {row.row: row for row in EnrichmentRow.objects.filter(enrichment=enrichment)}
    assert set(rows) == {1, 2, 3}
    assert rows[1].person_id == robert.pk and rows[1].confidence == Decimal("1.000")
    assert rows[2].person_id == robert.pk and Decimal("0.85") <= rows[2].confidence < 1 and rows[2].duplicate
    assert rows[3].method == "name"
    assert enrichment.billable_rows == 2


def test_keys_with_quotes_commas_braces_and_accents_find_their_people(tenant):
    # The keys of a lookup travel to PostgreSQL as one JSON array: what an array literal or a separator would mangle
    # must arrive as written.
    odd = 'Smith, "Jones" & {Sons} \\ Ltd'
    brien = make_person(first_name="Seán", last_name="O'Brien", domain="odd.example", company_name=odd)
    zoe = make_person(first_name="Zoë", last_name="Dupré-Núñez", email="zoe.o'hara+x@odd.example", domain="odd.example")
    content = csv_bytes(
        ["first", "last", "company", "email"],
        [
            ["Seán", "O'Brien", odd, ""],
            ["", "", "", "Zoe.O'Hara+X@odd.example"],
        ],
    )
    enrichment = upload(tenant, content)
    rows = {row.row: (row.person_id, row.method) for row in EnrichmentRow.objects.filter(enrichment=enrichment)}
    assert rows == {1: (brien.pk, "name"), 2: (zoe.pk, "email")}


def test_a_match_that_fills_nothing_the_row_lacks_is_not_charged(tenant):
    person = make_person(title="CEO", phone="+12125550199")
    full = [
        person.first_name,
        person.last_name,
        person.email,
        person.phone,
        person.title,
        person.company_name,
        person.company_domain,
        person.seniority,
        person.company_size,
        person.industry,
        person.city,
        person.state,
        person.zip,
        person.linkedin_url,
    ]
    header = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "title",
        "company_name",
        "company_domain",
        "seniority",
        "company_size",
        "industry",
        "city",
        "state",
        "zip",
        "linkedin_url",
    ]
    enrichment = upload(tenant, csv_bytes(header, [full]))
    assert (enrichment.matched_rows, enrichment.nothing_to_fill_rows, enrichment.billable_rows) == (1, 1, 0)
    assert enrichment.credits_quote == 0


def test_mapping_problem_names_what_can_match():
    assert mapping_problem({"email"}) is None
    assert mapping_problem({"linkedin_url"}) is None
    assert mapping_problem({"first_name", "last_name", "company_name"}) is None
    assert "first and last name" in mapping_problem({"first_name", "company_domain"})
    assert mapping_problem({"title", "city"})


def test_unreadable_files_and_impossible_mappings_are_refused_at_once(tenant):
    with pytest.raises(ValidationFailed) as unreadable:
        upload(tenant, b"\x00\x01\x02binary", match=False)
    assert "file" in unreadable.value.fields
    with pytest.raises(ValidationFailed) as unmappable:
        upload(tenant, b"title,city\nCEO,Austin\n", match=False)
    assert "mapping" in unmappable.value.fields
    assert not Enrichment.objects.exists()


def matched_list(tenant, count=10):
    people = make_people(count, prefix="buy")
    return upload(tenant, csv_bytes(["email"], [[p.email] for p in people])), people


def test_confirm_charges_the_quote_once_and_adds_the_people_to_my_leads(tenant):
    enrichment, people = matched_list(tenant)
    fund(tenant, 10)
    confirmed = enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    again = enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    assert confirmed.status == again.status == Enrichment.Status.PROCESSING
    assert confirmed.credits_charged == Decimal("2.00") and confirmed.enriched_rows == 10
    ledger = CreditTransaction.objects.filter(reference=enrichment.reference)
    assert [row.amount for row in ledger] == [Decimal("-2.00")]
    assert credit_balance(workspace=tenant.workspace) == Decimal("8.00")
    leads = Lead.objects.filter(workspace=tenant.workspace, source=Lead.Source.ENRICHMENT)
    assert leads.count() == 10
    assert {lead.acquired_credits for lead in leads} == {Decimal("0.20")}
    assert {lead.acquired_reference for lead in leads} == {enrichment.reference}
    assert OutboxEvent.objects.filter(type="lead.created", workspace=tenant.workspace).count() == 10
    assert Job.objects.filter(func="enrichment.tasks.build_result").count() == 1
    call_command("check_consistency")


def test_a_cap_enriches_the_best_matches_that_fit(tenant):
    exact = make_people(3, prefix="cap")
    robert = make_person(first_name="Robert", last_name="Johnstone", domain="capco.example")
    content = csv_bytes(
        ["first", "last", "domain", "email", "title"],
        [
            ["Robert", "Johnstnoe", "capco.example", "", ""],  # fuzzy: lowest confidence, first row
            ["", "", "", exact[0].email, "Founder"],  # exact, fills less (has a title)
            ["", "", "", exact[1].email, ""],  # exact, fills most
            ["", "", "", exact[2].email, ""],  # exact, fills most, later row
        ],
    )
    enrichment = upload(tenant, content)
    assert enrichment.billable_rows == 4
    fund(tenant, 10)
    enrichment = enrichment_confirm(
        workspace=tenant.workspace, enrichment_id=enrichment.pk, max_credits="0.45", actor=tenant.user
    )
    assert enrichment.credits_charged == Decimal("0.40") and enrichment.max_credits == Decimal("0.45")
    assert set(EnrichmentRow.objects.filter(enrichment=enrichment, selected=True).values_list("row", flat=True)) == {3, 4}
    owned = set(Lead.objects.filter(workspace=tenant.workspace).values_list("email", flat=True))
    assert owned == {exact[1].email, exact[2].email}
    assert robert.email not in owned
    enrichment_build_result(enrichment_id=enrichment.pk)
    enrichment.refresh_from_db()
    statuses = [row["match_status"] for row in csv.DictReader(io.StringIO(result_text(enrichment)))]
    assert statuses == ["not_selected", "not_selected", "matched", "matched"]


def test_a_cap_below_one_row_is_refused(tenant):
    enrichment, _ = matched_list(tenant, 2)
    fund(tenant, 10)
    with pytest.raises(ValidationFailed):
        enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, max_credits="0.10", actor=tenant.user)


def test_not_enough_credits_is_a_402_and_charges_nothing(tenant):
    enrichment, _ = matched_list(tenant)
    fund(tenant, "1.00")
    from credits.errors import InsufficientCredits

    with pytest.raises(InsufficientCredits) as short:
        enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    assert short.value.missing == Decimal("1.00")
    enrichment.refresh_from_db()
    assert enrichment.status == Enrichment.Status.AWAITING_CONFIRMATION and enrichment.credits_charged == 0
    assert credit_balance(workspace=tenant.workspace) == Decimal("1.00")
    assert not Lead.objects.filter(workspace=tenant.workspace).exists()
    assert not EnrichmentRow.objects.filter(enrichment=enrichment, selected=True).exists()


def test_cancel_charges_nothing_and_stops_confirmation(tenant):
    enrichment, _ = matched_list(tenant)
    fund(tenant, 10)
    cancelled = enrichment_cancel(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    assert cancelled.status == Enrichment.Status.CANCELLED
    with pytest.raises(Conflict):
        enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    assert credit_balance(workspace=tenant.workspace) == Decimal("10.00")
    assert not Lead.objects.filter(workspace=tenant.workspace).exists()


def test_a_confirmed_enrichment_cannot_be_cancelled(tenant):
    enrichment, _ = matched_list(tenant, 1)
    fund(tenant, 1)
    enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    with pytest.raises(Conflict):
        enrichment_cancel(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)


def test_people_owned_between_preview_and_confirmation_are_not_charged(tenant):
    enrichment, people = matched_list(tenant, 3)
    lead_create(workspace=tenant.workspace, source=Lead.Source.MANUAL, data={"email": people[0].email})
    fund(tenant, 10)
    enrichment = enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    assert enrichment.credits_charged == Decimal("0.40") and enrichment.enriched_rows == 2
    assert EnrichmentRow.objects.get(enrichment=enrichment, row=1).owned
    call_command("check_consistency")


def result_text(enrichment) -> str:
    return b"".join(enrichment_result_chunks(enrichment=enrichment)).decode()


def test_the_result_keeps_every_row_in_order_escapes_formulas_and_keeps_phone_numbers(tenant):
    people = make_people(3, prefix="res", phone=lambda i: f"+1212555{i:04d}")
    rows = [
        ["=cmd|' /C calc'!A0", people[0].email, "+1 212 555 0000", "x"],
        ["@SUM(A1)", "nobody@unknown.example", "", ""],
        ["plain", "", "", ""],
        ["second copy", people[0].email, "", "-2"],
        ["", people[1].email, "", ""],
    ]
    enrichment = upload(tenant, csv_bytes(["Note", "Email", "Phone", "Extra"], rows))
    fund(tenant, 10)
    enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    enrichment_build_result(enrichment_id=enrichment.pk)
    enrichment.refresh_from_db()
    assert enrichment.status == Enrichment.Status.COMPLETE
    table = list(csv.reader(io.StringIO(result_text(enrichment))))
    assert table[0][:7] == ["Note", "Email", "Phone", "Extra", "match_status", "match_method", "match_confidence"]
    assert table[0][7:] == [
        "first_name",
        "last_name",
        "email",
        "phone",
        "title",
        "seniority",
        "company_name",
        "company_domain",
        "company_size",
        "industry",
        "city",
        "state",
        "zip",
        "country",
        "linkedin_url",
    ]
    assert len(table) == 6
    assert [row[0] for row in table[1:]] == ["'=cmd|' /C calc'!A0", "'@SUM(A1)", "plain", "second copy", ""]
    assert table[1][2] == "+1 212 555 0000" and table[4][3] == "'-2"
    assert [row[4] for row in table[1:]] == ["matched", "no_match", "no_key", "duplicate", "matched"]
    assert table[1][7 + 3] == "+12125550000"  # the person's phone, as a phone number
    assert table[4][7 + 4] == people[0].title  # the duplicate gets the fields it now owns, charged once
    assert enrichment.credits_charged == Decimal("0.40")


def test_completion_announces_and_emails_the_creator(tenant):
    enrichment, _ = matched_list(tenant, 2)
    fund(tenant, 1)
    enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    enrichment_build_result(enrichment_id=enrichment.pk)
    event = OutboxEvent.objects.get(type="enrichment.completed")
    assert event.data["enrichment_id"] == enrichment.pk and event.data["credits_charged"] == "0.40"
    job = Job.objects.get(func="enrichment.tasks.send_enrichment_completed")
    send_enrichment_completed(**job.kwargs)
    assert mail.outbox[-1].to == [tenant.user.email]
    assert f"/enrichment/{enrichment.pk}/" in mail.outbox[-1].body


def test_the_result_can_be_written_again_without_moving_money(tenant):
    enrichment, _ = matched_list(tenant, 2)
    fund(tenant, 1)
    enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    # A worker that died while writing: its heartbeat goes stale and the sweeper hands the job out again.
    Enrichment.objects.filter(pk=enrichment.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1), result_rows=1)
    # The job queued at confirmation is still waiting: nothing more is queued until it is gone.
    assert enrichments_resume_stale() == 0
    Job.objects.filter(func="enrichment.tasks.build_result").update(status=Job.Status.SUCCEEDED)
    assert enrichments_resume_stale() == 1
    assert enrichments_resume_stale() == 0
    enrichment_build_result(enrichment_id=enrichment.pk)
    enrichment.refresh_from_db()
    assert enrichment.status == Enrichment.Status.COMPLETE and enrichment.result_rows == 2
    assert CreditTransaction.objects.filter(reference=enrichment.reference).count() == 1


def test_retention_deletes_files_and_rows_and_keeps_the_enrichment(tenant, django_capture_on_commit_callbacks):
    enrichment, _ = matched_list(tenant, 2)
    fund(tenant, 1)
    enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    enrichment_build_result(enrichment_id=enrichment.pk)
    enrichment.refresh_from_db()
    storage, names = enrichment.file.storage, [enrichment.file.name, enrichment.result_file.name]
    assert all(storage.exists(name) for name in names)
    assert enrichment.expires_at > timezone.now() + timedelta(days=29)
    assert enrichments_expire() == 0
    Enrichment.objects.filter(pk=enrichment.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert enrichments_expire() == 1
    enrichment.refresh_from_db()
    assert enrichment.is_expired and enrichment.expired_at is not None
    assert enrichment.total_rows == 2 and enrichment.credits_charged == Decimal("0.40")
    assert not EnrichmentRow.objects.filter(enrichment=enrichment).exists()
    assert not enrichment.file and not enrichment.result_file
    assert not any(storage.exists(name) for name in names)
    with pytest.raises(Conflict):
        enrichment_result_chunks(enrichment=enrichment)
    call_command("check_consistency")


def test_a_result_whose_upload_vanished_fails_and_keeps_the_leads(tenant):
    enrichment, _ = matched_list(tenant, 2)
    fund(tenant, 1)
    enrichment_confirm(workspace=tenant.workspace, enrichment_id=enrichment.pk, actor=tenant.user)
    enrichment.file.storage.delete(enrichment.file.name)
    enrichment_build_result(enrichment_id=enrichment.pk)
    enrichment.refresh_from_db()
    assert enrichment.status == Enrichment.Status.FAILED and "My Leads" in enrichment.failure_message
    assert Lead.objects.filter(workspace=tenant.workspace, source=Lead.Source.ENRICHMENT).count() == 2


def test_phones_and_linkedin_urls_match_however_they_are_written(tenant):
    by_profile = make_person(email="", phone="+13035550100", linkedin_url="https://www.linkedin.com/in/Zed-Q")
    by_phone = make_person(phone="+12125550199")
    by_extension = make_person(phone="+12125550188")
    content = csv_bytes(
        ["phone", "linkedin"],
        [
            ["", "http://uk.linkedin.com/in/zed-q/?trk=public"],
            ["212.555.0199", ""],
            ["+1 (212) 555-0188 ext. 12", ""],  # not plainly written: parsed, then looked up again
            ["555", "https://example.com/in/zed-q"],  # neither is a key
        ],
    )
    enrichment = upload(tenant, content)
    rows = {row.row: (row.method, row.person_id) for row in EnrichmentRow.objects.filter(enrichment=enrichment)}
    assert rows == {1: ("linkedin", by_profile.pk), 2: ("phone", by_phone.pk), 3: ("phone", by_extension.pk)}
    assert enrichment.unusable_rows == 1
