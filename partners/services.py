"""Every write of the partner portal: profiles, uploads and their processing, review, listing and payouts.

Processing reads the CSV row by row (leads.csv_import.read_rows) in chunks,
so memory stays bounded whatever the file's size, and a malformed row is that
row's error, not the file's. Each chunk's staged leads, row errors, counters and
progress commit together; a worker that dies mid-file leaves the upload
"processing" with a stale heartbeat, and the next run (the sweeper's, or a
retry) resumes after the last committed chunk. Nothing is listed until the
whole file is processed, and listing is one INSERT ... ON CONFLICT DO NOTHING,
so no lead is ever listed twice, whoever uploads it and however often.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User, Workspace
from credits.services import credits_pay_out, to_credits
from cursive.errors import PermissionDenied, ValidationFailed
from cursive.events import emit
from cursive.files import StoredFile
from cursive.jobs import job_enqueue
from leads import normalize
from leads.csv_import import (
    CsvFormat,
    FileRejected,
    Row,
    Source,
    check_size,
    count_lines,
    read_rows,
    reading_plan,
    validate_mapping,
)
from leads.models import ERASED_SQL
from leads.scoring import listing_quality
from leads.selectors import erased_hashes
from leads.services import LEAD_FIELDS, lead_fields_clean
from marketplace.models import Listing

from .models import PartnerProfile, Payout, Upload, UploadDuplicate, UploadedLead, UploadError, duplicate_reason

logger = logging.getLogger("cursive.partners")
CENT = Decimal("0.01")
# Row errors (and, apart, duplicates) kept per upload; the counts stay exact beyond it.
MAX_STORED_ERRORS = 10_000


def partner_profile_ensure(*, workspace: Workspace, company_name: str | None = None) -> PartnerProfile:
    profile, _ = PartnerProfile.objects.get_or_create(
        workspace=workspace,
        defaults={
            "company_name": company_name or workspace.name,
            "revenue_share_percent": Decimal(settings.PARTNER_REVENUE_SHARE_DEFAULT),
        },
    )
    return profile


@transaction.atomic
def partner_profile_update(*, profile_id: int, company_name: str, payout_details: str) -> PartnerProfile:
    """What the partner may edit; the share, trust and status are staff's (admin)."""
    profile = PartnerProfile.objects.select_for_update(no_key=True).get(pk=profile_id)
    profile.company_name = company_name.strip()[:200] or profile.company_name
    profile.payout_details = payout_details.strip()
    profile.save(update_fields=["company_name", "payout_details"])
    return profile


def _price(value) -> Decimal:
    try:
        price = to_credits(str(value))
    except ValidationFailed as exc:  # NaN, Infinity and numbers past any balance included
        raise ValidationFailed(
            "Set the price per lead in credits, e.g. 5.00.", fields={"price_per_lead": ["Not a number."]}
        ) from exc
    if not (Decimal("0.50") <= price <= Decimal("1000")):
        raise ValidationFailed(
            "The price per lead must be between 0.50 and 1,000 credits.", fields={"price_per_lead": ["Between 0.50 and 1000."]}
        )
    return price


def upload_create(
    *, workspace: Workspace, file: UploadedFile, price_per_lead, mapping: dict | None, created_by: User | None
) -> Upload:
    """Store the file and queue its processing; the file's rows are judged by the worker, not here."""
    if not workspace.is_partner:
        raise PermissionDenied("Only partner workspaces can upload leads.")
    profile = partner_profile_ensure(workspace=workspace)
    if profile.status == PartnerProfile.Status.SUSPENDED:
        raise PermissionDenied("This partner account is suspended; contact Cursive support.")
    check_size(file.size)
    price = _price(price_per_lead)
    try:
        mapping = validate_mapping(mapping or {})
    except ValueError as exc:
        raise ValidationFailed(str(exc), fields={"mapping": [str(exc)]}) from exc
    with transaction.atomic():
        upload = Upload(
            workspace=workspace,
            original_name=(file.name or "upload.csv")[:255],
            size_bytes=file.size,
            price_per_lead=price,
            mapping=mapping,
            created_by=created_by,
        )
        upload.file.save(f"{workspace.pk}-{timezone.now():%Y%m%d%H%M%S}.csv", file, save=False)
        try:
            # What can be judged from the first lines is answered now (a 400), not after a trip to the worker.
            _reading_plan(StoredFile.of(upload.file), mapping)
        except ValidationFailed:
            upload.file.delete(save=False)
            raise
        upload.save()
        job_enqueue("partners.tasks.process_upload", upload_id=upload.pk)
    return upload


def _reading_plan(source: Source, mapping: dict | None) -> tuple[CsvFormat, dict[str, str]]:
    """The file's format and mapping (leads.csv_import.reading_plan), which must name an email or phone column:
    a listed lead is reached through one of them."""
    fmt, resolved = reading_plan(source, mapping)
    if not {"email", "phone"} & set(resolved.values()):
        found = ", ".join(fmt.header[:10]) or "none"
        message = (
            f"No column holds email addresses or phone numbers (columns found: {found}). "
            "Name them e.g. 'Email' or 'Phone', or map them by hand."
        )
        raise ValidationFailed(message, fields={"mapping": [message]})
    return fmt, resolved


def _claim(upload_id: int) -> Upload | None:
    """Take an upload for processing: a queued one, or one whose worker stopped beating (resume)."""
    stale = timezone.now() - timedelta(seconds=settings.UPLOAD_STALE_SECONDS)
    with transaction.atomic():
        upload = (
            Upload.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
            .filter(pk=upload_id)
            .select_related("workspace")
            .first()
        )
        if upload is None:
            return None
        resumable = upload.status == Upload.Status.PROCESSING and (upload.heartbeat_at is None or upload.heartbeat_at < stale)
        if upload.status != Upload.Status.QUEUED and not resumable:
            return None
        upload.status = Upload.Status.PROCESSING
        upload.started_at = upload.started_at or timezone.now()
        upload.heartbeat_at = timezone.now()
        upload.save(update_fields=["status", "started_at", "heartbeat_at"])
    return upload


def _fail(upload: Upload, message: str) -> Upload:
    """The whole file cannot be used: says why in `failure_message` (row errors are for data rows only)."""
    with transaction.atomic():
        UploadedLead.objects.filter(upload=upload).delete()
        Upload.objects.filter(pk=upload.pk).update(
            status=Upload.Status.FAILED, failure_message=message, valid_rows=0, finished_at=timezone.now()
        )
    upload.refresh_from_db()
    return upload


def _row_problems(raw: dict) -> tuple[dict, dict[str, list[str]]]:
    cleaned, errors = lead_fields_clean(raw)
    if not errors.get("email") and cleaned["email"] and normalize.is_disposable_email(cleaned["email"]):
        errors["email"] = ["This is a disposable (throwaway) email address."]
    if not (cleaned["first_name"] or cleaned["last_name"]):
        errors["first_name"] = ["A lead needs a first or last name."]
    return cleaned, errors


# Why a row naming someone erased for privacy is refused (leads.models.Suppression, reason erased).
ERASED_ROW_MESSAGE = "Suppressed: this person asked Cursive to erase their data, so they cannot be listed again."

VALID, DUPLICATE, INVALID = "valid", "duplicate", "invalid"
# Rows whose verdicts the mapping step shows before the partner commits to the file.
PREVIEW_ROWS = 20


@dataclass
class Verdict:
    """What becomes of one row of a file: valid (staged for listing), a duplicate (of an earlier line of the file, or
    of a lead already in Cursive) or invalid (and why)."""

    row: Row
    outcome: str
    problems: list[tuple[str, str]] = dataclass_field(default_factory=list)  # (field, message) of an invalid row
    original_line: int | None = None  # a duplicate's earlier line in the file; None: already in Cursive
    cleaned: dict = dataclass_field(default_factory=dict)
    key: str = ""

    @property
    def line(self) -> int:
        return self.row.line

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.row.values.get("first_name", ""), self.row.values.get("last_name", "")) if part)

    @property
    def contact(self) -> str:
        return self.row.values.get("email") or self.row.values.get("phone") or ""

    @property
    def reason(self) -> str:
        if self.outcome == INVALID:
            return " ".join(message for _, message in self.problems)
        if self.outcome == DUPLICATE:
            return duplicate_reason(self.original_line)
        return ""


def _judge(rows: list[Row], *, upload: Upload | None) -> list[Verdict]:
    """The one rule that decides each row's fate, for processing and for the preview before it. Rows of earlier
    chunks of `upload` (staged already) count as earlier lines of the file."""
    verdicts: list[Verdict] = []
    firsts: dict[str, Verdict] = {}
    repeats: list[tuple[Verdict, Verdict]] = []
    for row in rows:
        if row.error:
            verdicts.append(Verdict(row, INVALID, problems=[("row", row.error)]))
            continue
        cleaned, problems = _row_problems(row.values)
        if problems:
            verdicts.append(
                Verdict(row, INVALID, problems=[(field, message) for field, messages in problems.items() for message in messages])
            )
            continue
        key = normalize.dedup_hash(cleaned["email"], cleaned["phone"])
        if key in firsts:
            repeat = Verdict(row, DUPLICATE, key=key)
            repeats.append((repeat, firsts[key]))
            verdicts.append(repeat)
            continue
        firsts[key] = Verdict(row, VALID, cleaned=cleaned, key=key)
        verdicts.append(firsts[key])
    if firsts:
        earlier = {}
        if upload is not None:
            earlier = dict(
                UploadedLead.objects.filter(upload=upload, dedup_hash__in=list(firsts)).values_list("dedup_hash", "line")
            )
        listed = set(
            Listing.objects.filter(dedup_hash__in=list(firsts))
            .exclude(status=Listing.Status.WITHDRAWN)
            .values_list("dedup_hash", flat=True)
        )
        erased = set(erased_hashes(hashes=list(firsts)))
        for key, verdict in firsts.items():
            if key in erased:
                verdict.outcome, verdict.problems = INVALID, [("email", ERASED_ROW_MESSAGE)]
            elif key in earlier:
                verdict.outcome, verdict.original_line = DUPLICATE, earlier[key]
            elif key in listed:
                verdict.outcome = DUPLICATE
    for repeat, first in repeats:
        # The person's first line in the whole file, which may be in an earlier chunk.
        repeat.original_line = first.original_line if first.original_line is not None else first.line
    return verdicts


def _process_chunk(
    upload: Upload, rows: list[Row]
) -> tuple[list[UploadedLead], list[UploadError], list[UploadDuplicate], dict[str, int]]:
    counts = {"total": len(rows), VALID: 0, DUPLICATE: 0, INVALID: 0}
    staged: list[UploadedLead] = []
    errors: list[UploadError] = []
    duplicates: list[UploadDuplicate] = []
    for verdict in _judge(rows, upload=upload):
        counts[verdict.outcome] += 1
        row = verdict.row
        if verdict.outcome == VALID:
            staged.append(
                UploadedLead(
                    upload=upload,
                    row=row.number,
                    line=row.line,
                    dedup_hash=verdict.key,
                    quality=listing_quality(verdict.cleaned),
                    **verdict.cleaned,
                )
            )
        elif verdict.outcome == DUPLICATE:
            duplicates.append(UploadDuplicate(upload=upload, row=row.number, line=row.line, original_line=verdict.original_line))
        else:
            errors.extend(
                UploadError(upload=upload, row=row.number, line=row.line, field=field, message=message)
                for field, message in verdict.problems
            )
    return staged, errors, duplicates, counts


def upload_preview(
    *, source: Source, fmt: CsvFormat, mapping: dict[str, str], limit: int = PREVIEW_ROWS
) -> tuple[list[Verdict], str]:
    """The verdicts of a file's first `limit` rows, before the partner commits to it, by the rule processing applies;
    and, when the file stops being CSV within them, why. Writes nothing."""
    rows: list[Row] = []
    stopped = ""
    try:
        for row in read_rows(source, fmt, mapping):
            rows.append(row)
            if len(rows) >= limit:
                break
    except FileRejected as exc:
        stopped = str(exc)
    return _judge(rows, upload=None), stopped


def upload_process(*, upload_id: int) -> Upload | None:
    upload = _claim(upload_id)
    if upload is None:
        return None
    # Read from storage, not a path: the worker running this need not be the node that took the upload.
    source = StoredFile.of(upload.file)
    try:
        fmt, mapping = _reading_plan(source, upload.mapping)
    except ValidationFailed as exc:  # checked at upload already; a file changed in storage since
        return _fail(upload, exc.message)
    except FileNotFoundError:
        return _fail(upload, "The uploaded file is missing on the server; upload it again.")
    if not upload.estimated_rows:
        Upload.objects.filter(pk=upload.pk).update(estimated_rows=count_lines(source) - 1)
    chunk_rows = settings.UPLOAD_CHUNK_ROWS
    rows = read_rows(source, fmt, mapping)
    try:
        for index in itertools.count():
            chunk = list(itertools.islice(rows, chunk_rows))
            if not chunk:
                break
            if index < upload.chunks_done:
                continue  # committed by an earlier run of this upload
            staged, errors, duplicates, counts = _process_chunk(upload, chunk)
            with transaction.atomic():
                UploadedLead.objects.bulk_create(staged, batch_size=5000)
                stored = UploadError.objects.filter(upload=upload).count()
                UploadError.objects.bulk_create(errors[: max(0, MAX_STORED_ERRORS - stored)], batch_size=5000)
                stored = UploadDuplicate.objects.filter(upload=upload).count()
                UploadDuplicate.objects.bulk_create(duplicates[: max(0, MAX_STORED_ERRORS - stored)], batch_size=5000)
                updated = Upload.objects.filter(pk=upload.pk, chunks_done=index).update(
                    total_rows=F("total_rows") + counts["total"],
                    valid_rows=F("valid_rows") + counts[VALID],
                    duplicate_rows=F("duplicate_rows") + counts[DUPLICATE],
                    invalid_rows=F("invalid_rows") + counts[INVALID],
                    chunks_done=index + 1,
                    heartbeat_at=timezone.now(),
                )
                if updated != 1:
                    # Another run took this upload over (ours was thought dead): let it finish.
                    transaction.set_rollback(True)
                    return None
    except FileRejected as exc:
        return _fail(upload, f"The file could not be read as CSV: {exc}")
    return _finish(upload_id)


def _finish(upload_id: int) -> Upload:
    with transaction.atomic():
        upload = Upload.objects.select_for_update(of=("self",), no_key=True).select_related("workspace").get(pk=upload_id)
        if upload.total_rows == 0:
            return _fail(upload, "The file has a header row but no leads under it.")
        if upload.valid_rows == 0:
            upload.status = Upload.Status.FAILED
            upload.failure_message = (
                "No row of this file can be listed: every row is invalid or a duplicate. See the row errors below."
            )
        else:
            upload.status = Upload.Status.AWAITING_REVIEW
        upload.finished_at = timezone.now()
        upload.save(update_fields=["status", "failure_message", "finished_at"])
        profile = partner_profile_ensure(workspace=upload.workspace)
    if upload.status == Upload.Status.AWAITING_REVIEW and profile.trusted:
        return upload_approve(upload_id=upload.pk, actor=None, note="Listed at once: trusted partner.")
    return upload


# Listing copies staged rows straight into the marketplace; ON CONFLICT skips anyone listed meanwhile
# (the partial unique index on live dedup hashes), so overlapping uploads list each person once.
_LIST_SQL = """
INSERT INTO marketplace_listing ({columns}, partner_id, revenue_share_percent, price, quality, status,
    has_phone, has_linkedin, email_verified, dedup_hash, listed_at)
SELECT {columns}, %(partner)s, %(share)s, %(price)s, quality, 'available',
    phone <> '', linkedin_url <> '', false, dedup_hash, %(now)s
FROM partners_uploadedlead WHERE upload_id = %(upload)s AND NOT {erased}
ORDER BY row
ON CONFLICT DO NOTHING
"""


@transaction.atomic
def upload_approve(*, upload_id: int, actor: User | None, note: str = "") -> Upload:
    # The insert below can take long: the partner's workspace, which it refers to (as does every other
    # insert of that partner), stays unlocked, and so do the partner's other uploads.
    upload = Upload.objects.select_for_update(of=("self",), no_key=True).select_related("workspace").get(pk=upload_id)
    if upload.status != Upload.Status.AWAITING_REVIEW:
        raise ValidationFailed(
            f"Only uploads awaiting review can be approved; this one is {upload.get_status_display().lower()}."
        )
    profile = partner_profile_ensure(workspace=upload.workspace)
    columns = ", ".join(LEAD_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            _LIST_SQL.format(columns=columns, erased=ERASED_SQL.format(column="partners_uploadedlead.dedup_hash")),
            {
                "partner": upload.workspace_id,
                "share": profile.revenue_share_percent,
                "price": upload.price_per_lead,
                "now": timezone.now(),
                "upload": upload.pk,
            },
        )
        listed = cursor.rowcount
    upload.listed_rows = listed
    upload.status = Upload.Status.LISTED
    upload.review_note = note
    upload.reviewed_by = actor
    upload.reviewed_at = timezone.now()
    upload.save(update_fields=["listed_rows", "status", "review_note", "reviewed_by", "reviewed_at"])
    # Approving a partner's upload is what approves the partner: their portal stops saying "being reviewed".
    # A suspended partner stays suspended.
    PartnerProfile.objects.filter(pk=profile.pk, status=PartnerProfile.Status.PENDING).update(status=PartnerProfile.Status.ACTIVE)
    UploadedLead.objects.filter(upload=upload).delete()
    _announce_review(upload)
    return upload


def _announce_review(upload: Upload) -> None:
    """`upload.reviewed` to the partner's workspace: approved (and how many listed) or rejected, and why."""
    emit(
        workspace=upload.workspace,
        type="upload.reviewed",
        data={
            "upload_id": upload.pk,
            "file_name": upload.original_name,
            "status": upload.status,
            "listed_rows": upload.listed_rows,
            "note": upload.review_note,
        },
    )


@transaction.atomic
def upload_reject(*, upload_id: int, actor: User | None, note: str) -> Upload:
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("Tell the partner why the upload is rejected.", fields={"note": ["Required."]})
    upload = Upload.objects.select_for_update(of=("self",), no_key=True).select_related("workspace").get(pk=upload_id)
    if upload.status != Upload.Status.AWAITING_REVIEW:
        raise ValidationFailed(
            f"Only uploads awaiting review can be rejected; this one is {upload.get_status_display().lower()}."
        )
    upload.status = Upload.Status.REJECTED
    upload.review_note = note
    upload.reviewed_by = actor
    upload.reviewed_at = timezone.now()
    upload.save(update_fields=["status", "review_note", "reviewed_by", "reviewed_at"])
    UploadedLead.objects.filter(upload=upload).delete()
    _announce_review(upload)
    return upload


def uploads_resume_stale() -> int:
    """Scheduled: hand uploads whose worker died back to a worker (the claim resumes them)."""
    stale = timezone.now() - timedelta(seconds=settings.UPLOAD_STALE_SECONDS)
    ids = list(Upload.objects.filter(status=Upload.Status.PROCESSING, heartbeat_at__lt=stale).values_list("pk", flat=True)[:100])
    for upload_id in ids:
        job_enqueue("partners.tasks.process_upload", upload_id=upload_id)
    return len(ids)


@transaction.atomic
def payout_record(
    *,
    workspace: Workspace,
    credits,
    amount_cents: int,
    actor: User,
    method: str = "bank transfer",
    external_reference: str = "",
    note: str = "",
) -> Payout:
    """Staff record money sent to a partner; the credits leave the partner's balance in the same transaction."""
    if not actor.is_staff:
        raise PermissionDenied("Only staff record payouts.")
    payout = Payout.objects.create(
        workspace=workspace,
        credits=Decimal(str(credits)).quantize(CENT),
        amount_cents=amount_cents,
        method=method,
        external_reference=external_reference,
        note=note,
        created_by=actor,
    )
    credits_pay_out(
        workspace=workspace, amount=payout.credits, reference=payout.reference, actor=actor, reason=f"Payout by {method}"
    )
    return payout
