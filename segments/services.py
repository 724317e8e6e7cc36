"""Every write to saved segments and every run of one: previews (free) and pulls (paid, never twice)."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone
from rest_framework import serializers

from accounts.models import OnboardingStep, User, Workspace
from accounts.services import onboarding_step_complete
from credits.errors import InsufficientCredits
from credits.services import credit_accounts_lock, credits_spend, to_credits
from cursive.errors import Conflict, NotFound, ValidationFailed
from cursive.pagination import keyset_after
from leads.models import Lead, Person, Suppression
from leads.services import LEAD_FIELDS, leads_announce, score_profile

from .filters import clean_filters, people_matching
from .models import Segment, SegmentRun, SegmentSettings
from .signals import people_pulled

logger = logging.getLogger("cursive.segments")
MAX_PULL = 10_000
PULL_WALK_MAX_BATCH = 20_000


def _messages(detail) -> list[str]:
    """DRF's nested error detail as sentences: a list item's errors come keyed by its index."""
    if isinstance(detail, dict):
        return [
            f"Item {index + 1}: {message}" if isinstance(index, int) else message
            for index, value in detail.items()
            for message in _messages(value)
        ]
    if isinstance(detail, list):
        return [message for item in detail for message in _messages(item)]
    return [str(detail)]


def validated_filters(raw) -> dict:
    """Clean filters, or ValidationFailed naming the first bad filter (the API's 400)."""
    try:
        return clean_filters(raw)
    except serializers.ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"filters": exc.detail}
        fields = {key: _messages(value) for key, value in detail.items()}
        first_key = next(iter(fields))
        raise ValidationFailed(f"Filter '{first_key}': {fields[first_key][0]}", fields={"filters": fields}) from exc


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the segment a name.", fields={"name": ["This field is required."]})
    return name[:120]


def _segment_for_update(*, workspace: Workspace, segment_id) -> Segment:
    segment = Segment.objects.select_for_update().filter(workspace=workspace, pk=segment_id).first()
    if segment is None:
        raise NotFound("That segment does not exist in this workspace.")
    return segment


def _auto_pull_per_day(per_day) -> int:
    if not isinstance(per_day, int) or isinstance(per_day, bool) or not 0 <= per_day <= MAX_PULL:
        raise ValidationFailed(
            f"Automatic pulls take 0 to {MAX_PULL:,} people a day.", fields={"auto_pull_per_day": [f"0 to {MAX_PULL}."]}
        )
    return per_day


@transaction.atomic
def segment_create(
    *,
    workspace: Workspace,
    name: str,
    filters: dict,
    description: str = "",
    created_by: User | None = None,
    status: str = Segment.Status.ACTIVE,
    auto_pull_per_day: int = 0,
) -> Segment:
    if status not in Segment.Status.values:
        raise ValidationFailed("Status is active, paused or archived.", fields={"status": ["Unknown status."]})
    segment = Segment.objects.create(
        workspace=workspace,
        name=_name(name),
        description=(description or "").strip(),
        filters=validated_filters(filters),
        created_by=created_by,
        status=status,
        auto_pull_per_day=_auto_pull_per_day(auto_pull_per_day),
    )
    onboarding_step_complete(workspace=workspace, step=OnboardingStep.Key.CREATE_SEGMENT)
    return segment


@transaction.atomic
def segment_update(*, workspace: Workspace, segment_id, **changes) -> Segment:
    segment = _segment_for_update(workspace=workspace, segment_id=segment_id)
    allowed = {"name", "description", "filters", "status", "auto_pull_per_day"}
    if unknown := sorted(set(changes) - allowed):
        raise ValidationFailed(
            f"These fields cannot be changed: {', '.join(unknown)}.", fields={key: ["Not editable."] for key in unknown}
        )
    if "name" in changes:
        segment.name = _name(changes["name"])
    if "description" in changes:
        segment.description = (changes["description"] or "").strip()
    if "filters" in changes:
        segment.filters = validated_filters(changes["filters"])
        segment.last_count = None  # the old count described other filters
    if "status" in changes:
        if changes["status"] not in Segment.Status.values:
            raise ValidationFailed("Status is active, paused or archived.", fields={"status": ["Unknown status."]})
        segment.status = changes["status"]
    if "auto_pull_per_day" in changes:
        segment.auto_pull_per_day = _auto_pull_per_day(changes["auto_pull_per_day"])
    segment.save()
    return segment


@transaction.atomic
def segment_duplicate(*, workspace: Workspace, segment_id, created_by: User | None = None) -> Segment:
    original = _segment_for_update(workspace=workspace, segment_id=segment_id)
    return Segment.objects.create(
        workspace=workspace,
        name=f"{original.name} (copy)"[:120],
        description=original.description,
        filters=original.filters,
        created_by=created_by,
    )


@transaction.atomic
def segment_delete(*, workspace: Workspace, segment_id) -> None:
    _segment_for_update(workspace=workspace, segment_id=segment_id).delete()


def search_count(*, filters: dict) -> int:
    return people_matching(validated_filters(filters)).count()


def lead_search_record(*, workspace: Workspace, filters: dict) -> None:
    """A workspace ran a Lead Search: opening the page ticks nothing, searching with a filter does."""
    if filters:
        onboarding_step_complete(workspace=workspace, step=OnboardingStep.Key.SEARCH_DATABASE)


def search_sample(*, filters: dict, limit: int = 10) -> list[Person]:
    # The best few are found in person_score_idx alone, then only they are read from the table: walking the index
    # with a visit to the table per person passed over took seconds for filters that the best scores rarely match.
    best = people_matching(validated_filters(filters)).order_by("-score", "id").values("pk")[:limit]
    return list(Person.objects.filter(pk__in=best).order_by("-score", "id"))


@transaction.atomic
def segment_preview(
    *, workspace: Workspace, segment_id, actor: User | None = None, mode: str = SegmentRun.Mode.PREVIEW
) -> SegmentRun:
    segment = _segment_for_update(workspace=workspace, segment_id=segment_id)
    count = people_matching(validated_filters(segment.filters)).count()
    segment.last_count = count
    segment.last_run = timezone.now()
    segment.save(update_fields=["last_count", "last_run", "updated_at"])
    if mode == SegmentRun.Mode.PREVIEW:  # someone asked; the daily refresh of counts is not a search
        onboarding_step_complete(workspace=workspace, step=OnboardingStep.Key.SEARCH_DATABASE)
    return SegmentRun.objects.create(segment=segment, mode=mode, count=count, actor=actor)


# New people go in with one INSERT ... SELECT, scored as they go in by leads_score (the one score formula, with the
# workspace's profile); ON CONFLICT skips anyone another pull added meanwhile, and RETURNING says exactly how many
# were added, which is what gets charged.
_PULL_SQL = """
INSERT INTO leads_lead (workspace_id, source, source_detail, status, email_status, phone_status, score, tags,
                        dedup_hash, pages_viewed, seconds_on_site, acquired_credits, acquired_reference,
                        created_by_id, created_at, updated_at, {columns})
SELECT %(workspace)s, 'database', %(detail)s, 'new', email_status, 'unknown',
       leads_score(email_status, 'unknown', 0, 0, company_size, industry, %(now)s, %(sizes)s::varchar[],
                   %(industries)s::varchar[], %(now)s),
       '{{}}', dedup_hash, 0, 0, %(price)s, %(reference)s, %(actor)s, %(now)s, %(now)s, {columns}
FROM (SELECT *, CASE WHEN email_verified THEN 'valid' ELSE 'unknown' END AS email_status
      FROM leads_person WHERE id = ANY(%(ids)s)) AS person
ON CONFLICT (workspace_id, dedup_hash) DO NOTHING
RETURNING id
"""


def _pull_candidates(*, workspace: Workspace, matching, limit: int) -> tuple[list[int], int]:
    """The ids of the best `limit` matching people that the workspace does not own and nobody erased, best first
    (score, then id), and how many matching people the workspace owns rank before the last of them (all it owns
    when fewer than `limit` are new).

    The matching people are walked best first in batches through person_score_idx, each row telling whether the
    workspace owns it, and the walk stops as soon as it has enough: a pull touches the people it takes and the
    owned ones it skips, instead of every match (sorting 150,000 matches at 10M people took most of a second)."""
    owned = Lead.objects.filter(workspace=workspace, dedup_hash=OuterRef("dedup_hash"))
    erased = Suppression.objects.filter(workspace__isnull=True, email_hash=OuterRef("dedup_hash"))
    best_first = matching.order_by("-score", "id")

    def next_batch(after: Q, size: int) -> list[tuple[int, int, bool, bool]]:
        # The batch is found in the index alone (it carries the filter columns); only its own rows are then read
        # from the table, for the dedup hash that says whether the workspace owns them.
        ids = best_first.filter(after).values("pk")[:size]
        batch = Person.objects.filter(pk__in=ids).annotate(owned=Exists(owned), erased=Exists(erased))
        return list(batch.order_by("-score", "id").values_list("id", "score", "owned", "erased"))

    candidates: list[int] = []
    skipped_owned = 0
    after, size, batches_without_new = Q(), limit, 0
    while True:
        batch = next_batch(after, size)
        found_before = len(candidates)
        for person_id, _, is_owned, is_erased in batch:
            if is_owned:
                skipped_owned += 1
            elif not is_erased:
                candidates.append(person_id)
                if len(candidates) == limit:
                    return candidates, skipped_owned
        if len(batch) < size:
            return candidates, skipped_owned
        last_id, last_score = batch[-1][0], batch[-1][1]
        after = keyset_after(("-score", "id"), [last_score, last_id])
        # A workspace that owns a long run of the segment's best people is walked past in fewer, larger batches.
        batches_without_new = batches_without_new + 1 if len(candidates) == found_before else 0
        size = min(size * 2, PULL_WALK_MAX_BATCH) if batches_without_new > 1 else limit - len(candidates)


@transaction.atomic
def segment_pull(
    *, workspace: Workspace, segment_id, limit, actor: User | None = None, mode: str = SegmentRun.Mode.PULL
) -> SegmentRun:
    """Add up to `limit` people the workspace does not own yet and charge only for them, all in one transaction.
    The segment row is locked first, so two pulls of one segment run one after the other."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PULL:
        raise ValidationFailed(f"Pull between 1 and {MAX_PULL:,} people at a time.", fields={"limit": [f"1 to {MAX_PULL}."]})
    segment = _segment_for_update(workspace=workspace, segment_id=segment_id)
    if segment.status != Segment.Status.ACTIVE:
        raise Conflict(
            f"“{segment.name}” is {segment.get_status_display().lower()}; make it active to pull from it.",
            code="segment_not_active",
        )
    # The credit account before the leads, as a purchase takes them: inserting leads locks the workspace's lead
    # tally (leads' migration 0014) until commit, and a purchase holds the account while it inserts.
    credit_accounts_lock(workspaces=[workspace])
    candidates, skipped_owned = _pull_candidates(
        workspace=workspace, matching=people_matching(validated_filters(segment.filters)), limit=limit
    )
    # The run exists before its leads, which carry its reference (what a bounce refund gives back).
    run = SegmentRun.objects.create(segment=segment, mode=mode, requested=limit, skipped_owned=skipped_owned, actor=actor)
    if candidates:
        columns = ", ".join(LEAD_FIELDS)
        sizes, industries = score_profile(workspace=workspace)
        with connection.cursor() as cursor:
            cursor.execute(
                _PULL_SQL.format(columns=columns),
                {
                    "workspace": workspace.pk,
                    "actor": actor.pk if actor else None,
                    "now": timezone.now(),
                    "ids": candidates,
                    "detail": f"segment “{segment.name}”"[:200],
                    "price": settings.SEGMENT_PULL_PRICE,
                    "reference": run.reference,
                    "sizes": sizes,
                    "industries": industries,
                },
            )
            new_ids = [row[0] for row in cursor.fetchall()]
        leads_announce(workspace=workspace, lead_ids=new_ids)
        run.pulled = len(new_ids)
        run.credits_charged = settings.SEGMENT_PULL_PRICE * run.pulled
        run.save(update_fields=["pulled", "credits_charged"])
    pulled = run.pulled
    if pulled:
        credits_spend(
            workspace=workspace,
            amount=run.credits_charged,
            reference=run.reference,
            actor=actor,
            reason=f"{pulled} {'person' if pulled == 1 else 'people'} from segment “{segment.name}”",
        )
        people_pulled.send(sender=Segment, workspace=workspace, segment=segment, lead_ids=new_ids)
    segment.last_run = run.created_at
    segment.save(update_fields=["last_run", "updated_at"])
    return run


@transaction.atomic
def segment_settings_update(*, workspace: Workspace, auto_pull_daily_credit_cap) -> SegmentSettings:
    try:
        cap = to_credits(str(auto_pull_daily_credit_cap))
    except ValidationFailed as exc:
        raise ValidationFailed(
            f"The daily cap is a number of credits: {exc.message}", fields={"auto_pull_daily_credit_cap": exc.fields["amount"]}
        ) from exc
    if cap < 0:
        raise ValidationFailed("The daily cap cannot be negative.", fields={"auto_pull_daily_credit_cap": [">= 0"]})
    segment_settings, _ = SegmentSettings.objects.select_for_update().get_or_create(workspace=workspace)
    segment_settings.auto_pull_daily_credit_cap = cap
    segment_settings.save(update_fields=["auto_pull_daily_credit_cap"])
    return segment_settings


def segments_refresh_counts() -> int:
    """Daily: refresh the count of every active segment."""
    refreshed = 0
    for segment in Segment.objects.filter(status=Segment.Status.ACTIVE).select_related("workspace").iterator():
        segment_preview(workspace=segment.workspace, segment_id=segment.pk, mode=SegmentRun.Mode.REFRESH)
        refreshed += 1
    return refreshed


def segments_auto_pull() -> int:
    """Daily: pull each active segment's daily quota, within its workspace's daily credit cap."""
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    pulled = 0
    segments = (
        Segment.objects.filter(status=Segment.Status.ACTIVE, auto_pull_per_day__gt=0)
        .select_related("workspace")
        .order_by("workspace_id", "id")
    )
    for segment in segments.iterator():
        cap = SegmentSettings.objects.filter(workspace=segment.workspace).values_list(
            "auto_pull_daily_credit_cap", flat=True
        ).first() or Decimal("0")
        spent = SegmentRun.objects.filter(
            segment__workspace=segment.workspace, mode=SegmentRun.Mode.AUTO_PULL, created_at__gte=today
        ).aggregate(total=Sum("credits_charged"))["total"] or Decimal("0")
        affordable = int((cap - spent) // settings.SEGMENT_PULL_PRICE) if settings.SEGMENT_PULL_PRICE else 0
        limit = min(segment.auto_pull_per_day, affordable)
        if limit < 1:
            continue
        try:
            run = segment_pull(workspace=segment.workspace, segment_id=segment.pk, limit=limit, mode=SegmentRun.Mode.AUTO_PULL)
        except InsufficientCredits:
            logger.info("auto-pull skipped: not enough credits", extra={"segment": segment.pk})
            continue
        pulled += run.pulled
    return pulled
