"""Privacy rights (docs/privacy.md): erasing a person from everything Cursive holds, and the opt-out requests
through which people ask for that, or for a copy of their data, themselves.

Erasure keeps one thing: a suppression entry holding the hash of the address (leads.models.Suppression, reason
`erased`, no workspace), which uploads, listings, pulls, enrichment, the pixel and sending all read, so the
person never comes back.

Lock order inside an erasure: the erasure's own advisory lock (two erasures of one person run one after the
other), the marketplace purchases that sold the person's leads (the order every refund of a purchase takes),
the leads, the listings, then the credit accounts in workspace id order.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.core import signing
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from credits.services import credit_accounts_lock, credits_refund
from cursive import ratelimit
from cursive.audit import audit_record
from cursive.errors import ApplicationError, Conflict, RateLimited, ValidationFailed
from cursive.events import emit
from cursive.files import StoredFile
from cursive.jobs import job_enqueue
from cursive.locks import lock_for_transaction
from cursive.models import OutboxEvent
from enrichment.models import Enrichment, EnrichmentRow
from enrichment.services import RESULT_COLUMNS, MatchStatus
from leads import normalize
from leads.models import Lead, Person, Suppression
from leads.services import LEAD_FIELDS, suppressions_add
from marketplace.models import LeadPurchaseItem, Listing
from marketplace.services import purchase_id_of, sold_item_bounce_refunded, sold_item_lock
from partners.models import Upload, UploadedLead, UploadError
from partners.services import ERASED_ROW_MESSAGE
from sequences.models import BounceRefund, InboundMessage
from visitors.models import Event, Visitor, VisitorEnrichment

from .models import ErasureRefund, OptOutRequest

# A lead a workspace paid Cursive for this recently is refunded when its person is erased.
ERASURE_REFUND_DAYS = 30
LINK_MAX_AGE = timedelta(hours=24)
LINK_SALT = "privacy.opt-out"
# The opt-out form sends email to whatever address it is given: a sender of many requests is slowed down, and
# one address is not sent more than a few links, whoever asks.
REQUESTS_PER_IP_PER_HOUR = 10
REQUESTS_PER_ADDRESS_PER_HOUR = 3
ERASE_ATTEMPTS = 3
# What a listing or visitor says about the person (the company it names is a company's, not the person's).
LISTING_PERSONAL_FIELDS = ["first_name", "last_name", "email", "phone", "title", "linkedin_url", "city", "zip"]
EVENT_PERSONAL_KEYS = ("email", "first_name", "last_name", "title", "phone", "linkedin_url", "city", "zip")


class LinkInvalid(ApplicationError):
    status_code = 400
    code = "link_invalid"
    default_message = "This link is not valid any more: it expired or was already used. Ask for a new one."


@dataclass
class ErasureReport:
    """What an erasure found and did: counts only, as the audit row records it."""

    suppression_id: int = 0
    people: int = 0
    leads: int = 0
    workspaces: int = 0
    listings_deleted: int = 0
    listings_blanked: int = 0
    staged_rows: int = 0
    visitors: int = 0
    enrichment_results: int = 0
    refunds: int = 0
    refunded_credits: Decimal = Decimal("0.00")
    refunded_by_workspace: dict[int, Decimal] = field(default_factory=dict)
    refunded_by_lead: dict[int, Decimal] = field(default_factory=dict)
    leads_by_workspace: dict[int, int] = field(default_factory=dict)

    def as_audit_data(self) -> dict:
        return {
            "people": self.people,
            "leads": self.leads,
            "workspaces": self.workspaces,
            "listings_deleted": self.listings_deleted,
            "listings_blanked": self.listings_blanked,
            "staged_rows": self.staged_rows,
            "visitors": self.visitors,
            "enrichment_results": self.enrichment_results,
            "refunds": self.refunds,
            "refunded_credits": f"{self.refunded_credits:.2f}",
        }


def _clean_email(email) -> str:
    email = normalize.normalize_email(email)
    if not normalize.is_valid_email(email):
        raise ValidationFailed("Enter a valid email address.", fields={"email": ["Enter a valid email address."]})
    return email


class _BoughtMeanwhile(Exception):
    """A purchase delivered the person to a workspace while the erasure waited for the listing it sold."""


def erase_person(*, email: str, actor: User | None, reason: str) -> ErasureReport:
    """Remove the person with this address from the lead database, the marketplace, every workspace's leads
    (with their sequence enrolments), visitors, enrichment results and pending uploads; refund what workspaces
    paid for them in the last ERASURE_REFUND_DAYS; tell those workspaces; keep only a suppression hash and an
    audit row without personal data. All in one transaction; running it again finds nothing more to do."""
    email = _clean_email(email)
    for _ in range(ERASE_ATTEMPTS):
        try:
            return _erase(email=email, actor=actor, reason=reason)
        except _BoughtMeanwhile:
            continue  # rolled back: start over, now seeing the new lead and its sale from the start
    raise Conflict("The person was being bought while they were erased; try again.", code="erasure_busy")


@transaction.atomic
def _erase(*, email: str, actor: User | None, reason: str) -> ErasureReport:
    email_hash = normalize.suppression_hash(email)
    lock_for_transaction(f"privacy.erase:{email_hash}")
    report = ErasureReport()
    suppressions_add(workspace=None, emails=[email], reason=Suppression.Reason.ERASED, detail="Erased at the person's request")
    report.suppression_id = Suppression.objects.get(workspace__isnull=True, email_hash=email_hash).pk
    # A workspace's own entry (unsubscribed, bounced) keeps working by its hash; the address itself goes.
    Suppression.objects.filter(workspace__isnull=False, email_hash=email_hash).exclude(email="").update(email="")

    leads = _leads_locked(email_hash=email_hash, report=report)
    listings = list(Listing.objects.filter(dedup_hash=email_hash).order_by("pk").select_for_update(of=("self",)))
    if Lead.objects.filter(dedup_hash=email_hash).exclude(pk__in=[lead.pk for lead, _ in leads]).exists():
        raise _BoughtMeanwhile()
    _refund(leads=leads, email_hash=email_hash, actor=actor, report=report)
    _forget_listings(listings, report=report)
    _forget_staged_rows(email_hash=email_hash, report=report)
    people = list(Person.objects.filter(dedup_hash=email_hash).values_list("pk", flat=True))
    _forget_visitors(email=email, lead_ids=[lead.pk for lead, _ in leads], person_ids=people, report=report)
    _forget_enrichment_results(person_ids=people, report=report)
    _forget_messages(email=email)
    _announce(leads, report=report)
    Lead.objects.filter(pk__in=[lead.pk for lead, _ in leads]).delete()  # enrolments, their messages and timelines go too
    VisitorEnrichment.objects.filter(person_id__in=people).update(person=None)  # the charge stays, the person goes
    Person.objects.filter(pk__in=people).delete()  # its company stays, as other people's
    report.people = len(people)
    audit_record(
        actor=actor,
        action="privacy.erase",
        target=f"suppression:{report.suppression_id}",
        reason=reason,
        **report.as_audit_data(),
    )
    return report


def _leads_locked(*, email_hash: str, report: ErasureReport) -> list[tuple[Lead, LeadPurchaseItem | None]]:
    """Every workspace's lead of the person, locked, each with the marketplace sale that delivered it (its
    purchase locked first, in purchase order)."""
    found = list(Lead.objects.filter(dedup_hash=email_hash).select_related("workspace").order_by("pk"))

    def purchase_id(lead: Lead) -> int | None:
        return purchase_id_of(lead.acquired_reference)

    items: dict[int, LeadPurchaseItem | None] = {}
    for lead in sorted(found, key=lambda lead: (purchase_id(lead) or 0, lead.pk)):
        if (pid := purchase_id(lead)) is not None:
            items[lead.pk] = sold_item_lock(workspace=lead.workspace, purchase_id=pid, lead_id=lead.pk)
    locked = list(
        Lead.objects.filter(pk__in=[lead.pk for lead in found])
        .select_related("workspace")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    report.leads = len(locked)
    for lead in locked:
        report.leads_by_workspace[lead.workspace_id] = report.leads_by_workspace.get(lead.workspace_id, 0) + 1
    report.workspaces = len(report.leads_by_workspace)
    return [(lead, items.get(lead.pk)) for lead in locked]


def _refund(*, leads, email_hash: str, actor: User | None, report: ErasureReport) -> None:
    """What each workspace paid Cursive for the person within ERASURE_REFUND_DAYS goes back to it in credits
    (card purchases too: the card payment stays), once per acquisition, unless a bounce refund gave it back
    already. A marketplace sale is undone for that lead as a bounce refund undoes it: the partner's share is
    taken back, and a later refund of the whole purchase does not pay the lead twice."""
    since = timezone.now() - timedelta(days=ERASURE_REFUND_DAYS)
    owed = []
    for lead, item in leads:
        if lead.acquired_credits <= 0 or lead.created_at < since:
            continue
        if item is None and purchase_id_of(lead.acquired_reference) is not None:
            continue  # the sale was refunded since, and the credits with it
        already = {"workspace_id": lead.workspace_id, "acquired_reference": lead.acquired_reference, "email_hash": email_hash}
        if BounceRefund.objects.filter(**already).exists() or ErasureRefund.objects.filter(**already).exists():
            continue
        owed.append((lead, item))
    if not owed:
        return
    credit_accounts_lock(
        workspaces=[lead.workspace for lead, _ in owed]
        + [item.partner for _, item in owed if item is not None and item.partner_id]
    )
    for lead, item in owed:
        refund = ErasureRefund.objects.create(
            workspace_id=lead.workspace_id,
            email_hash=email_hash,
            acquired_reference=lead.acquired_reference,
            credits=lead.acquired_credits,
        )
        credits_refund(
            workspace=lead.workspace,
            amount=refund.credits,
            reference=refund.reference,
            actor=actor,
            reason=f"Refund: a lead ({lead.acquired_reference}) was erased at the person's request",
        )
        if item is not None:
            sold_item_bounce_refunded(
                item=item,
                credits=refund.credits,
                reason=f"A lead sold in purchase #{item.purchase_id} was erased at the person's request",
            )
        report.refunds += 1
        report.refunded_credits += refund.credits
        report.refunded_by_workspace[lead.workspace_id] = report.refunded_by_workspace.get(lead.workspace_id, 0) + refund.credits
        report.refunded_by_lead[lead.pk] = refund.credits


def _forget_listings(listings: list[Listing], *, report: ErasureReport) -> None:
    """A listing never in a purchase goes. One that was (sold, held by a card checkout, or sold and refunded) stays
    as the record of that purchase, without the person's details: off the market, and a sold one stays sold."""
    sold = set(LeadPurchaseItem.objects.filter(listing__in=listings).values_list("listing_id", flat=True))
    report.listings_deleted, _ = Listing.objects.filter(pk__in=[x.pk for x in listings if x.pk not in sold]).delete()
    kept = Listing.objects.filter(pk__in=sold)
    report.listings_blanked = kept.update(**dict.fromkeys(LISTING_PERSONAL_FIELDS, ""), has_phone=False, has_linkedin=False)
    kept.exclude(status=Listing.Status.SOLD).update(status=Listing.Status.WITHDRAWN)


def _forget_staged_rows(*, email_hash: str, report: ErasureReport) -> None:
    """Rows of partner uploads not yet listed: gone, and the upload's report says why, as a re-upload would."""
    staged = list(UploadedLead.objects.filter(dedup_hash=email_hash).values_list("pk", "upload_id", "row", "line"))
    for _, upload_id, row, line in staged:
        Upload.objects.filter(pk=upload_id).update(valid_rows=F("valid_rows") - 1, invalid_rows=F("invalid_rows") + 1)
        UploadError.objects.create(upload_id=upload_id, row=row, line=line, field="email", message=ERASED_ROW_MESSAGE)
    UploadedLead.objects.filter(pk__in=[pk for pk, *_ in staged]).delete()
    report.staged_rows = len(staged)


def _forget_visitors(*, email: str, lead_ids: list[int], person_ids: list[int], report: ErasureReport) -> None:
    """Visitors identified as the person become anonymous again (the visits, and a company known from the
    network, stay); what the site sent about them in identify calls and forms goes."""
    visitors = Visitor.objects.filter(email=email) | Visitor.objects.filter(lead_id__in=lead_ids)
    if person_ids:
        visitors |= Visitor.objects.filter(person_id__in=person_ids)
    ids = list(visitors.values_list("pk", flat=True))
    if not ids:
        return
    Visitor.objects.filter(pk__in=ids).update(
        email=None,
        first_name=None,
        last_name=None,
        title=None,
        person_company_name=None,
        lead=None,
        person=None,
        identified_by=None,
        identified_at=None,
        identification_lag_ms=None,
    )
    Event.objects.filter(visitor_id__in=ids, type__in=["identify", "form"]).update(data=None)
    report.visitors = len(ids)


def _forget_enrichment_results(*, person_ids: list[int], report: ErasureReport) -> None:
    """Rows of enrichment results the person filled: the result file loses what the lead database added to them
    (after commit, as files are not transactional); the workspace's own columns stay, they are its upload."""
    if not person_ids:
        return
    rows: dict[int, list[int]] = {}
    for enrichment_id, row in (
        EnrichmentRow.objects.filter(person_id__in=person_ids, selected=True)
        .exclude(enrichment__result_file="")
        .filter(enrichment__expired_at__isnull=True)
        .values_list("enrichment_id", "row")
    ):
        rows.setdefault(enrichment_id, []).append(row)
    for enrichment_id, numbers in rows.items():
        job_enqueue("privacy.tasks.strip_enrichment_result", enrichment_id=enrichment_id, rows=sorted(numbers))
    report.enrichment_results = len(rows)


def _forget_messages(*, email: str) -> None:
    """Replies and bounces read from mailboxes name the address, and so do events not yet delivered to webhooks.
    (The credit ledger is append-only, enforced by the database: reasons written there are left as they are.)"""
    InboundMessage.objects.filter(from_email=email).update(from_email="")
    InboundMessage.objects.filter(bounced_email=email).update(bounced_email="")
    for event in OutboxEvent.objects.filter(data__email=email):
        event.data = {**event.data, **{key: None for key in EVENT_PERSONAL_KEYS if key in event.data}}
        event.save(update_fields=["data"])


def _announce(leads, *, report: ErasureReport) -> None:
    """`lead.erased` per lead for the workspace's webhooks, and one email per workspace to its owners."""
    for lead, _ in leads:
        emit(
            workspace=lead.workspace,
            type="lead.erased",
            data={
                "lead_id": lead.pk,
                "reason": "person_request",
                "refunded_credits": f"{report.refunded_by_lead.get(lead.pk, Decimal('0')):.2f}",
            },
        )
    for workspace_id, count in report.leads_by_workspace.items():
        job_enqueue(
            "privacy.tasks.send_lead_erased_notice",
            workspace_id=workspace_id,
            leads=count,
            refunded_credits=f"{report.refunded_by_workspace.get(workspace_id, Decimal('0')):.2f}",
        )


# Opt-out requests --------------------------------------------------------------------------------------------


def _holds_data(email_hash: str) -> bool:
    """Whether Cursive has anything about this identity: each test is one probe of an index."""
    return (
        Person.objects.filter(dedup_hash=email_hash).exists()
        or Lead.objects.filter(dedup_hash=email_hash).exists()
        or Listing.objects.filter(dedup_hash=email_hash).exclude(status=Listing.Status.WITHDRAWN).exists()
    )


def _rate_limit(key: str, limit: int) -> None:
    if not ratelimit.hit_sliding(f"privacy.opt_out:{key}", limit=limit, window=3600).allowed:
        raise RateLimited("Too many requests: try again in an hour.")


def opt_out_request(*, email: str, kind: str, ip: str) -> OptOutRequest | None:
    """A person asks to be erased or for a copy of their data: when Cursive holds anything about the address,
    a confirmation link goes to it. Returns the request, or None when there is nothing to ask about; the page
    answers the same either way, so it reveals nobody."""
    _rate_limit(f"ip:{ip}", REQUESTS_PER_IP_PER_HOUR)
    if kind not in OptOutRequest.Kind.values:
        raise ValidationFailed("Choose what you want us to do.", fields={"kind": ["Choose one."]})
    email = _clean_email(email)
    email_hash = normalize.suppression_hash(email)
    _rate_limit(f"address:{email_hash}", REQUESTS_PER_ADDRESS_PER_HOUR)
    with transaction.atomic():
        if not _holds_data(email_hash):
            return None
        now = timezone.now()
        request = OptOutRequest.objects.create(
            kind=kind, email=email, email_hash=email_hash, created_at=now, expires_at=now + LINK_MAX_AGE
        )
        job_enqueue("privacy.tasks.send_opt_out_link", request_id=request.pk)
    return request


def opt_out_token(request: OptOutRequest) -> str:
    """The link's token: the request's id, signed and timestamped (nothing secret is stored to compare it with)."""
    return signing.dumps({"request": request.pk}, salt=LINK_SALT, compress=False)


def opt_out_for_token(token: str, *, lock: bool = False) -> OptOutRequest:
    """The pending request a link confirms; LinkInvalid when forged, expired or used."""
    try:
        payload = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature as exc:  # SignatureExpired included
        raise LinkInvalid() from exc
    requests = OptOutRequest.objects.select_for_update() if lock else OptOutRequest.objects
    request = requests.filter(pk=payload.get("request"), status=OptOutRequest.Status.PENDING).first()
    if request is None or request.expires_at <= timezone.now():
        raise LinkInvalid()
    return request


@transaction.atomic
def opt_out_confirm(*, token: str) -> OptOutRequest:
    """The person followed the link and confirmed (a POST: link scanners only GET): an erasure happens now; a
    copy of the data is emailed by a job, which completes the request."""
    request = opt_out_for_token(token, lock=True)
    now = timezone.now()
    request.confirmed_at = now
    if request.kind == OptOutRequest.Kind.ERASE:
        erase_person(email=request.email, actor=None, reason=f"Opt-out request #{request.pk}, confirmed by email")
        request.status, request.email, request.completed_at = OptOutRequest.Status.COMPLETED, "", now
    else:
        request.status = OptOutRequest.Status.CONFIRMED
        job_enqueue("privacy.tasks.send_data_copy", request_id=request.pk)
    request.save(update_fields=["status", "email", "confirmed_at", "completed_at"])
    return request


@transaction.atomic
def opt_out_copy_sent(*, request_id: int) -> None:
    OptOutRequest.objects.filter(pk=request_id, status=OptOutRequest.Status.CONFIRMED).update(
        status=OptOutRequest.Status.COMPLETED, email="", completed_at=timezone.now()
    )


def opt_out_requests_expire() -> int:
    """Hourly: requests nobody confirmed in time let go of their address."""
    return OptOutRequest.objects.filter(status=OptOutRequest.Status.PENDING, expires_at__lte=timezone.now()).update(
        status=OptOutRequest.Status.EXPIRED, email=""
    )


def enrichment_result_strip(*, enrichment_id: int, rows: list[int]) -> int:
    """Blank what the lead database added to these data rows of an enrichment's result file (their person was
    erased): the match becomes `no_match`, as a result written now would say; the workspace's own columns
    stay. Safe to run twice. Returns how many rows changed."""
    enrichment = Enrichment.objects.filter(pk=enrichment_id).first()
    if enrichment is None or not enrichment.result_file.name or enrichment.is_expired:
        return 0
    storage, name = enrichment.result_file.storage, enrichment.result_file.name
    if not storage.exists(name):
        return 0
    wanted, changed = set(rows), 0
    tail = len(RESULT_COLUMNS) + len(LEAD_FIELDS)
    with StoredFile(storage, name).open("rb") as source, tempfile.TemporaryFile("w+b") as spool:
        reader = csv.reader(io.TextIOWrapper(source, encoding="utf-8", newline=""))
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        writer = csv.writer(text)
        for number, record in enumerate(reader):  # the header is number 0; data row n is record n
            if number in wanted and len(record) >= tail and record[-tail] != MatchStatus.NO_MATCH:
                record[-tail:] = [MatchStatus.NO_MATCH] + [""] * (tail - 1)
                changed += 1
            writer.writerow(record)
        text.flush()
        text.detach()
        if changed:
            spool.seek(0)
            storage.delete(name)
            storage.save(name, File(spool))
    return changed
