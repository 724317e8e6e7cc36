"""Reads of batch enrichment, always scoped to the workspace."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils.text import capfirst

from accounts.models import Workspace
from cursive.errors import Conflict, NotFound
from cursive.files import StoredFile
from leads.models import Lead

from .models import Enrichment, EnrichmentRow
from .services import FILL_FIELDS

SAMPLE_ROWS = 10
DOWNLOAD_CHUNK_BYTES = 64 * 1024


def enrichments_list(*, workspace: Workspace) -> QuerySet[Enrichment]:
    return Enrichment.objects.filter(workspace=workspace).select_related("created_by").order_by("-created_at", "-id")


def enrichment_get(*, workspace: Workspace, enrichment_id) -> Enrichment:
    enrichment = Enrichment.objects.filter(workspace=workspace, pk=enrichment_id).select_related("created_by").first()
    if enrichment is None:
        raise NotFound("That enrichment does not exist in this workspace.")
    return enrichment


_LABELS = {"linkedin_url": "LinkedIn URL", "zip": "ZIP code"}


def field_label(name: str) -> str:
    return _LABELS.get(name) or capfirst(Lead._meta.get_field(name).verbose_name)


def enrichment_preview(*, enrichment: Enrichment) -> dict:
    """What the free preview shows: matches by method, what the billable matches would fill ("phone for 212 of
    245"), and a sample of matched rows saying how they matched and which fields they would fill (never the
    values: those are what the buyer pays for)."""
    labels = dict(EnrichmentRow.Method.choices)
    sample = []
    rows = EnrichmentRow.objects.filter(enrichment=enrichment).order_by("row")[:SAMPLE_ROWS]
    for row in rows:
        sample.append(
            {
                "row": row.row,
                "method": labels[row.method],
                "confidence": row.confidence,
                "owned": row.owned,
                "duplicate": row.duplicate,
                "billable": row.billable,
                "fills": [field_label(name) for bit, name in enumerate(FILL_FIELDS) if row.fill_mask & (1 << bit)],
            }
        )
    return {
        "by_method": [(labels[method], enrichment.matched_by.get(method, 0)) for method in EnrichmentRow.Method.values],
        "fills": sorted(
            ((field_label(name), count, enrichment.billable_rows) for name, count in enrichment.fills.items()),
            key=lambda item: -item[1],
        ),
        "sample": sample,
    }


def enrichment_result_chunks(*, enrichment: Enrichment) -> Iterator[bytes]:
    """The result CSV in pieces, for a StreamingHttpResponse; Conflict until it is ready or after it expired."""
    if enrichment.status != Enrichment.Status.COMPLETE:
        raise Conflict(
            f"This enrichment is {enrichment.get_status_display().lower()}; its file can be downloaded once complete.",
            code="enrichment_not_complete",
        )
    if enrichment.expired_at is not None or not enrichment.result_file:
        raise Conflict("This result was deleted after the retention period; enrich the list again.", code="enrichment_expired")
    # Streamed from storage as it arrives (S3File would first copy the whole object to this node).
    handle = StoredFile.of(enrichment.result_file).open("rb")

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(DOWNLOAD_CHUNK_BYTES):
                yield block

    return chunks()
