"""erase_person: the person leaves everything, comes back through no door, and recent buyers get their credits back once."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from credits.models import CreditAccount, CreditTransaction
from cursive.consistency import run_checks
from cursive.errors import Conflict, ValidationFailed
from cursive.models import AuditEvent, OutboxEvent
from enrichment.services import enrichment_build_result, enrichment_confirm
from leads.models import Company, Lead, Person, Suppression
from leads.services import lead_create, suppressions_add
from marketplace.models import Listing
from marketplace.services import purchase_create, purchase_refund
from partners.models import Upload, UploadedLead, UploadError
from partners.services import ERASED_ROW_MESSAGE
from privacy.models import ErasureRefund
from privacy.services import erase_person
from segments.services import segment_create, segment_pull
from sequences.models import Enrollment
from sequences.services import enrollments_create, sequence_create
from tests.enrichment.conftest import csv_bytes
from tests.enrichment.conftest import upload as enrichment_upload
from tests.marketplace.conftest import make_listing
from tests.marketplace.test_card_flow import deliver, session_event
from tests.partners.conftest import csv_text, upload_bytes
from tests.segments.conftest import make_person
from tests.visitors.conftest import make_pixel, make_visitor
from visitors.models import Visitor, VisitorEnrichment
from visitors.services import visitor_enrich, visitor_identify_person
from webhooks.slack import text

from .conftest import EMAIL, run_jobs

pytestmark = pytest.mark.django_db


def balance(workspace) -> Decimal:
    return CreditAccount.objects.get(workspace=workspace).balance


def in_database(**fields) -> Person:
    return make_person(email=EMAIL, first_name="Alex", last_name="Morgan", **fields)


def bought(buyer, partner, *, price="10.00", payment="credits") -> Lead:
    listing = make_listing(partner=partner.workspace, price=price, email=EMAIL, first_name="Alex", last_name="Morgan")
    purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment=payment)
    return Lead.objects.get(workspace=buyer.workspace, dedup_hash=listing.dedup_hash), purchase


def pulled(buyer) -> Lead:
    segment = segment_create(workspace=buyer.workspace, name="Everyone", filters={})
    segment_pull(workspace=buyer.workspace, segment_id=segment.pk, limit=50)
    return Lead.objects.get(workspace=buyer.workspace, email=EMAIL)


def staged_upload(tenant_factory):
    from accounts.models import Workspace

    other_partner = tenant_factory("DataNest", kind=Workspace.Kind.PARTNER)
    rows = [["Alex", "Morgan", EMAIL, "", "CEO", "Erase Inc"], ["Sam", "Stays", "sam@stays.example", "", "CTO", "Stays Inc"]]
    upload = upload_bytes(other_partner, csv_text(rows).encode())
    assert upload.status == Upload.Status.AWAITING_REVIEW and upload.valid_rows == 2
    return other_partner, upload


def identified_visitor(buyer) -> Visitor:
    pixel = make_pixel(buyer)
    visitor = make_visitor(pixel)
    return visitor_identify_person(
        visitor_id=visitor.pk,
        method=Visitor.IdentifiedBy.FORM,
        traits={"email": EMAIL, "first_name": "Alex"},
        seen_at=timezone.now(),
    )


class TestEverywhere:
    @pytest.fixture
    def world(self, buyer, other_buyer, partner, tenant_factory, mailbox):
        """The person in the lead database, a pending upload, a listing sold to one buyer (who met them on its
        site and wrote to them), pulled from a segment by another."""
        person = in_database()
        _, upload = staged_upload(tenant_factory)
        lead, purchase = bought(buyer, partner)
        visitor = identified_visitor(buyer)
        sequence = sequence_create(
            workspace=buyer.workspace,
            data={"name": "Intro", "mailbox_id": mailbox.pk, "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}]},
        )
        assert enrollments_create(workspace=buyer.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk]).enrolled == 1
        other_lead = pulled(other_buyer)
        suppressions_add(workspace=other_buyer.workspace, emails=[EMAIL], reason=Suppression.Reason.UNSUBSCRIBED)
        assert visitor.lead_id == lead.pk and visitor.email == EMAIL
        assert balance(buyer.workspace) == Decimal("90.00") and balance(partner.workspace) == Decimal("7.00")
        assert balance(other_buyer.workspace) == Decimal("99.00")
        return {
            "person": person,
            "upload": upload,
            "lead": lead,
            "purchase": purchase,
            "visitor": visitor,
            "other_lead": other_lead,
        }

    def test_the_person_is_removed_from_everything(self, world, buyer, other_buyer, partner):
        report = erase_person(email="  Alex.Morgan@Erase.example ", actor=None, reason="Asked by email")

        assert not Person.objects.filter(email=EMAIL).exists()
        assert Company.objects.filter(pk=world["person"].company_id).exists()  # the company stays
        assert not Lead.objects.filter(email=EMAIL).exists()
        assert not Lead.objects.filter(pk__in=[world["lead"].pk, world["other_lead"].pk]).exists()
        assert not Enrollment.objects.filter(email=EMAIL).exists()
        listing = Listing.objects.get(dedup_hash=world["lead"].dedup_hash)
        assert (listing.email, listing.first_name, listing.last_name) == ("", "", "")
        assert listing.status != Listing.Status.AVAILABLE
        visitor = Visitor.objects.get(pk=world["visitor"].pk)
        assert (visitor.email, visitor.first_name, visitor.lead_id, visitor.person_id, visitor.identified_by) == (None,) * 5
        assert visitor.pageviews == 1  # the visit itself stays, anonymous
        assert not UploadedLead.objects.filter(email=EMAIL).exists()
        assert UploadedLead.objects.filter(upload=world["upload"]).count() == 1
        upload = Upload.objects.get(pk=world["upload"].pk)
        assert (upload.valid_rows, upload.invalid_rows) == (1, 1)
        # Reported as the partner counts: the first data row is line 2 of their file.
        assert UploadError.objects.filter(upload=upload, row=1, line=2, message=ERASED_ROW_MESSAGE).exists()

        entry = Suppression.objects.get(workspace__isnull=True)
        assert entry.reason == Suppression.Reason.ERASED and entry.email == ""
        assert Suppression.objects.get(workspace=other_buyer.workspace).email == ""  # its own entry, by hash only
        assert (report.people, report.leads, report.workspaces, report.staged_rows, report.visitors) == (1, 2, 2, 1, 1)

    def test_recent_buyers_get_their_credits_back_once_and_the_books_balance(self, world, buyer, other_buyer, partner):
        erase_person(email=EMAIL, actor=None, reason="Asked by email")
        again = erase_person(email=EMAIL, actor=None, reason="Asked twice")

        assert again.leads == 0 and again.refunds == 0
        assert balance(buyer.workspace) == Decimal("100.00")
        assert balance(other_buyer.workspace) == Decimal("100.00")
        assert balance(partner.workspace) == Decimal("0.00")  # the partner's share of the undone sale went back
        refunds = ErasureRefund.objects.order_by("workspace_id")
        assert [(r.workspace_id, r.credits) for r in refunds] == [
            (buyer.workspace.pk, Decimal("10.00")),
            (other_buyer.workspace.pk, Decimal("1.00")),
        ]
        rows = CreditTransaction.objects.filter(reference__startswith="erasure_refund:")
        assert rows.count() == 2 and all(row.kind == "refund" and EMAIL not in row.reason for row in rows)
        assert run_checks() == []

    def test_a_later_refund_of_the_purchase_does_not_pay_the_erased_lead_twice(self, world, buyer, partner, admin_user):
        erase_person(email=EMAIL, actor=None, reason="Asked by email")
        purchase_refund(purchase_id=world["purchase"].pk, actor=admin_user, reason="Customer asked")
        assert balance(buyer.workspace) == Decimal("100.00")
        assert Listing.objects.get(dedup_hash=world["lead"].dedup_hash).status == Listing.Status.WITHDRAWN
        assert run_checks() == []

    def test_affected_workspaces_are_told_without_personal_data(self, world, buyer, other_buyer):
        erase_person(email=EMAIL, actor=None, reason="Asked by email")

        events = {
            (e.workspace_id, e.data["lead_id"], e.data["refunded_credits"])
            for e in OutboxEvent.objects.filter(type="lead.erased")
        }
        assert events == {
            (buyer.workspace.pk, world["lead"].pk, "10.00"),
            (other_buyer.workspace.pk, world["other_lead"].pk, "1.00"),
        }
        assert OutboxEvent.objects.filter(type="visitor.identified").exists()
        assert all(EMAIL not in str(event.data) for event in OutboxEvent.objects.all())  # not even undelivered ones
        mail.outbox.clear()
        assert run_jobs("privacy.tasks.send_lead_erased_notice") == 2
        assert sorted(message.to[0] for message in mail.outbox) == sorted([buyer.user.email, other_buyer.user.email])
        notice = next(message for message in mail.outbox if message.to == [buyer.user.email])
        assert "at the person's request" in notice.subject and "10.00 credits are back" in notice.body
        assert EMAIL not in notice.body and "Alex" not in notice.body

    def test_the_audit_row_holds_no_personal_data(self, world, admin_user):
        erase_person(email=EMAIL, actor=admin_user, reason="Ticket 42")
        audit = AuditEvent.objects.get(action="privacy.erase")
        assert audit.actor == admin_user and audit.reason == "Ticket 42"
        assert audit.target == f"suppression:{Suppression.objects.get(workspace__isnull=True).pk}"
        assert audit.data["leads"] == 2 and audit.data["refunded_credits"] == "11.00"
        assert "alex" not in str(audit.data).lower() and "erase.example" not in str(audit.data)


class TestNeverAgain:
    @pytest.fixture(autouse=True)
    def erased(self, db):
        in_database()
        erase_person(email=EMAIL, actor=None, reason="Asked by email")

    def test_a_partner_uploading_them_again_sees_the_row_rejected_as_suppressed(self, partner):
        rows = [
            ["Alex", "Morgan", EMAIL.upper(), "", "CEO", "Erase Inc"],
            ["Sam", "Stays", "sam@stays.example", "", "CTO", "Stays"],
        ]
        upload = upload_bytes(partner, csv_text(rows).encode())
        assert (upload.valid_rows, upload.invalid_rows) == (1, 1)
        error = UploadError.objects.get(upload=upload)
        assert (error.row, error.line, error.field, error.message) == (1, 2, "email", ERASED_ROW_MESSAGE)
        assert not UploadedLead.objects.filter(email=EMAIL).exists()

    def test_they_cannot_be_listed(self, partner):
        with pytest.raises(Conflict) as refused:
            make_listing(partner=partner.workspace, email=EMAIL)
        assert refused.value.code == "suppressed"

    def test_a_segment_pull_skips_them_should_they_return_to_the_database(self, buyer):
        in_database(score=99)
        make_person(score=10)
        segment = segment_create(workspace=buyer.workspace, name="Everyone", filters={})
        run = segment_pull(workspace=buyer.workspace, segment_id=segment.pk, limit=10)
        assert run.pulled == 1
        assert not Lead.objects.filter(email=EMAIL).exists()

    def test_enrichment_does_not_match_them(self, buyer):
        in_database()
        enrichment = enrichment_upload(buyer, csv_bytes(["email"], [[EMAIL]]))
        assert enrichment.total_rows == 1 and enrichment.matched_rows == 0

    def test_the_pixel_does_not_identify_them(self, buyer):
        visitor = make_visitor(make_pixel(buyer))
        assert (
            visitor_identify_person(visitor_id=visitor.pk, method="form", traits={"email": EMAIL}, seen_at=timezone.now()) is None
        )
        visitor.refresh_from_db()
        assert visitor.email is None and not Lead.objects.filter(email=EMAIL).exists()

    def test_no_sequence_writes_to_them(self, buyer, mailbox):
        lead = lead_create(workspace=buyer.workspace, data={"email": EMAIL, "first_name": "Alex"}, source="manual")
        sequence = sequence_create(
            workspace=buyer.workspace,
            data={"name": "Intro", "mailbox_id": mailbox.pk, "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}]},
        )
        result = enrollments_create(workspace=buyer.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk])
        assert result.enrolled == 0 and result.skipped == [{"lead_id": lead.pk, "reason": "suppressed"}]


class TestRefundWindow:
    def test_a_lead_bought_31_days_ago_is_not_refunded(self, buyer, partner):
        lead, _ = bought(buyer, partner)
        Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(days=31))
        report = erase_person(email=EMAIL, actor=None, reason="Asked by email")
        assert report.leads == 1 and report.refunds == 0
        assert balance(buyer.workspace) == Decimal("90.00") and balance(partner.workspace) == Decimal("7.00")
        assert not ErasureRefund.objects.exists()
        assert run_checks() == []

    def test_a_card_purchase_is_refunded_in_credits(self, buyer, partner, settings):
        settings.STRIPE_SECRET_KEY = ""
        listing = make_listing(partner=partner.workspace, price="10.00", email=EMAIL)
        purchase = purchase_create(workspace=buyer.workspace, lead_ids=[listing.pk], payment="card")
        assert deliver(session_event(purchase)).status_code == 200
        erase_person(email=EMAIL, actor=None, reason="Asked by email")
        assert balance(buyer.workspace) == Decimal("110.00") and balance(partner.workspace) == Decimal("0.00")
        assert run_checks() == []

    def test_a_lead_already_refunded_for_a_bounce_is_not_refunded_again(self, buyer, partner):
        from sequences.refunds import bounce_refund

        bought(buyer, partner)
        assert bounce_refund(workspace=buyer.workspace, email=EMAIL, source="api") is not None
        report = erase_person(email=EMAIL, actor=None, reason="Asked by email")
        assert report.refunds == 0 and balance(buyer.workspace) == Decimal("100.00")
        assert run_checks() == []

    def test_a_typed_in_lead_costs_nothing_and_gets_nothing(self, buyer):
        lead_create(workspace=buyer.workspace, data={"email": EMAIL}, source="manual")
        report = erase_person(email=EMAIL, actor=None, reason="Asked by email")
        assert report.leads == 1 and report.refunds == 0


def test_an_invalid_address_is_refused(db):
    with pytest.raises(ValidationFailed):
        erase_person(email="not an address", actor=None, reason="x")


def test_an_unknown_address_is_suppressed_all_the_same(db):
    report = erase_person(email="nobody@erase.example", actor=None, reason="Asked by email")
    assert report.leads == 0 and Suppression.objects.filter(workspace__isnull=True, email="").count() == 1


def result_of(enrichment) -> list[list[str]]:
    with enrichment.result_file.storage.open(enrichment.result_file.name, "rb") as stored:
        return list(csv.reader(io.StringIO(stored.read().decode())))


def test_an_enrichment_result_loses_what_the_database_added_and_the_buyer_gets_the_row_back(buyer):
    in_database(title="Head of Sales")
    enrichment = enrichment_upload(buyer, csv_bytes(["email", "note"], [[EMAIL, "met at expo"], ["x@nobody.example", "kept"]]))
    enrichment_confirm(workspace=buyer.workspace, enrichment_id=enrichment.pk, actor=buyer.user)
    enrichment_build_result(enrichment_id=enrichment.pk)
    enrichment.refresh_from_db()
    before = result_of(enrichment)
    assert before[1][2] == "matched" and "Head of Sales" in before[1]

    report = erase_person(email=EMAIL, actor=None, reason="Asked by email")
    assert report.enrichment_results == 1 and report.refunded_credits == enrichment.price_per_row
    assert run_jobs("privacy.tasks.strip_enrichment_result") == 1

    after = result_of(enrichment)
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1][:2] == [EMAIL, "met at expo"]  # the workspace's own columns are its own upload
    assert after[1][2] == "no_match" and set(after[1][3:]) == {""}
    assert balance(buyer.workspace) == Decimal("100.00")
    assert run_checks() == []


def test_slack_says_a_lead_was_removed_at_the_persons_request():
    event = OutboxEvent(type="lead.erased", data={"lead_id": 7, "reason": "person_request", "refunded_credits": "10.00"})
    assert text(event) == ":wastebasket: Lead #7 was removed at the person's request. 10.00 credits were refunded."


def test_a_paid_visitor_enrichment_keeps_its_charge_without_the_person(buyer):
    in_database()
    visitor = identified_visitor(buyer)
    visitor_enrich(workspace=buyer.workspace, visitor_id=visitor.pk)
    report = erase_person(email=EMAIL, actor=None, reason="Asked by email")
    assert report.people == 1 and not Person.objects.filter(email=EMAIL).exists()
    charge = VisitorEnrichment.objects.get(workspace=buyer.workspace)
    assert charge.person_id is None and charge.lead_id is None
    assert run_checks() == []
