from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import Workspace
from cursive.errors import NotFound

from .models import Segment, SegmentRun, SegmentSettings

PULL_MODES = (SegmentRun.Mode.PULL, SegmentRun.Mode.AUTO_PULL)


def workspace_segments(*, workspace: Workspace, status: str | None = None) -> QuerySet[Segment]:
    segments = Segment.objects.filter(workspace=workspace)
    return segments.filter(status=status) if status else segments


def segment_get(*, workspace: Workspace, segment_id) -> Segment:
    segment = workspace_segments(workspace=workspace).filter(pk=segment_id).first()
    if segment is None:
        raise NotFound("That segment does not exist in this workspace.")
    return segment


def segment_runs(*, segment: Segment) -> QuerySet[SegmentRun]:
    return segment.runs.order_by("-created_at", "-id")


def segment_performance(*, workspace: Workspace) -> QuerySet[Segment]:
    """Per segment: runs, people pulled, credits spent (for analytics)."""
    pulls = Q(runs__mode__in=PULL_MODES)
    return (
        workspace_segments(workspace=workspace)
        .annotate(
            run_count=Count("runs"),
            people_pulled=Sum("runs__pulled", filter=pulls),
            credits_spent=Sum("runs__credits_charged", filter=pulls),
        )
        .order_by("-credits_spent", "name")
    )


def segment_settings(*, workspace: Workspace) -> SegmentSettings:
    return SegmentSettings.objects.filter(workspace=workspace).first() or SegmentSettings(workspace=workspace)
