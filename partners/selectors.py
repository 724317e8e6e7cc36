"""Reads of the partner portal, always scoped to the partner's workspace."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Workspace
from credits.models import CreditTransaction
from cursive.errors import NotFound
from marketplace.models import LeadPurchaseItem, Listing

from .models import Payout, Upload, UploadDuplicate, UploadError, duplicate_reason


def workspace_uploads(*, workspace: Workspace) -> QuerySet[Upload]:
    return Upload.objects.filter(workspace=workspace)


def upload_get(*, workspace: Workspace, upload_id) -> Upload:
    upload = workspace_uploads(workspace=workspace).filter(pk=upload_id).first()
    if upload is None:
        raise NotFound("That upload does not exist in this workspace.")
    return upload


def upload_errors(*, upload: Upload) -> QuerySet[UploadError]:
    return UploadError.objects.filter(upload=upload).order_by("row", "id")


def upload_duplicates(*, upload: Upload) -> QuerySet[UploadDuplicate]:
    return UploadDuplicate.objects.filter(upload=upload).order_by("line", "id")


def upload_skipped_rows(*, upload: Upload) -> Iterator[tuple[int, str, str]]:
    """(line of the file, field, problem) of every row of an upload that is not listed, in the file's order: its
    errors (one per problem) and its duplicates (no field; the problem names the original)."""
    errors = upload_errors(upload=upload).values_list("line", "field", "message").iterator(chunk_size=2000)
    duplicates = (
        (line, "", duplicate_reason(original))
        for line, original in upload_duplicates(upload=upload).values_list("line", "original_line").iterator(chunk_size=2000)
    )
    return heapq.merge(errors, duplicates, key=lambda skipped: skipped[0])


def partner_sales(*, workspace: Workspace) -> QuerySet[LeadPurchaseItem]:
    """Every sale of the partner's leads (refunded ones excluded), with what it earned."""
    return (
        LeadPurchaseItem.objects.filter(partner=workspace, is_sale=True)
        .select_related("listing", "purchase")
        .order_by("-purchase__completed_at", "-id")
    )


def partner_payouts(*, workspace: Workspace) -> QuerySet[Payout]:
    return Payout.objects.filter(workspace=workspace).order_by("-created_at", "-id")


def partner_summary(*, workspace: Workspace) -> dict:
    month_start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    earnings = CreditTransaction.objects.filter(account__workspace=workspace, reference__startswith="purchase:").filter(
        Q(kind=CreditTransaction.Kind.EARN) | Q(kind=CreditTransaction.Kind.REVERSAL)
    )
    totals = earnings.aggregate(total=Sum("amount"), month=Sum("amount", filter=Q(created_at__gte=month_start)))
    listings = Listing.objects.filter(partner=workspace).aggregate(
        listed=Count("id", filter=Q(status=Listing.Status.AVAILABLE)), sold=Count("id", filter=Q(status=Listing.Status.SOLD))
    )
    paid = Payout.objects.filter(workspace=workspace).aggregate(total=Sum("credits"))["total"] or Decimal("0")
    return {
        "earned_total": totals["total"] or Decimal("0"),
        "earned_this_month": totals["month"] or Decimal("0"),
        "paid_out_total": paid,
        "listed": listings["listed"],
        "sold": listings["sold"],
        "uploads": Upload.objects.filter(workspace=workspace).count(),
    }
