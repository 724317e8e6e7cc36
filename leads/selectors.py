"""Reads of a workspace's leads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, Q, QuerySet
from django.db.models.expressions import RawSQL

from accounts.models import Workspace
from cursive.errors import NotFound

from .models import DuplicatePair, IdealCustomerProfile, Lead, LeadTagTally, LeadTally, Suppression
from .normalize import normalize_email, suppression_hash

SORTS = {"-score": ("-score", "-id"), "-created": ("-created_at", "-id")}


@dataclass
class LeadFilters:
    source: str | None = None
    status: str | None = None
    tag: str | None = None
    industry: str | None = None
    score_min: int | None = None
    score_max: int | None = None
    created_from: date | None = None
    created_to: date | None = None
    sort: str = "-score"


def workspace_leads(*, workspace: Workspace, filters: LeadFilters | None = None) -> QuerySet[Lead]:
    leads = Lead.objects.filter(workspace=workspace)
    f = filters or LeadFilters()
    for field in ("source", "status", "industry"):
        if getattr(f, field):
            leads = leads.filter(**{field: getattr(f, field)})
    if f.tag:
        leads = leads.filter(tags__contains=[f.tag])
    if f.score_min is not None:
        leads = leads.filter(score__gte=f.score_min)
    if f.score_max is not None:
        leads = leads.filter(score__lte=f.score_max)
    if f.created_from:
        leads = leads.filter(created_at__date__gte=f.created_from)
    if f.created_to:
        leads = leads.filter(created_at__date__lte=f.created_to)
    return leads


def lead_get(*, workspace: Workspace, lead_id) -> Lead:
    lead = Lead.objects.filter(workspace=workspace, pk=lead_id).first()
    if lead is None:
        raise NotFound("That lead does not exist in this workspace.")
    return lead


def workspace_lead_count(*, workspace: Workspace) -> int:
    """Exact, read from the tally the database keeps with every write: one row, however many leads."""
    return LeadTally.objects.filter(workspace=workspace).values_list("leads", flat=True).first() or 0


def workspace_leads_matching(*, workspace: Workspace, filters: LeadFilters, cap: int) -> tuple[int, bool]:
    """How many of the workspace's leads match the filters, and whether counting stopped at the cap. Exact from the
    tallies when nothing or only a tag narrows the list; otherwise counted no further than cap + 1 rows."""
    narrowing = {name for name, value in vars(filters).items() if name != "sort" and value not in (None, "")}
    if not narrowing:
        return workspace_lead_count(workspace=workspace), False
    if narrowing == {"tag"}:
        tally = LeadTagTally.objects.filter(workspace=workspace, tag=filters.tag).values_list("leads", flat=True).first()
        return tally or 0, False
    counted = workspace_leads(workspace=workspace, filters=filters)[: cap + 1].count()
    return counted, counted > cap


def ideal_customer_profile(*, workspace: Workspace) -> IdealCustomerProfile | None:
    return IdealCustomerProfile.objects.filter(workspace=workspace).first()


def workspace_tags(*, workspace: Workspace, limit: int = 100) -> list[str]:
    """The tags at least one of the workspace's leads carries, in order, from the tag tallies."""
    tallies = LeadTagTally.objects.filter(workspace=workspace, leads__gt=0).order_by("tag")
    return list(tallies.values_list("tag", flat=True)[:limit])


def new_leads_since(*, workspace: Workspace, since: datetime) -> list[dict]:
    """Leads that arrived after `since`, grouped by where they came from (for the "new leads" toast)."""
    return list(
        Lead.objects.filter(workspace=workspace, created_at__gt=since)
        .values("source", "source_detail")
        .annotate(count=Count("id"))
        .order_by("-count")
    )


def suppressed_emails(*, workspace: Workspace, emails) -> set[str]:
    """Which of these addresses (normalized) must not be emailed by this workspace: its own list or erased."""
    by_hash = {suppression_hash(email): normalize_email(email) for email in emails if email}
    if not by_hash:
        return set()
    # One array parameter: a sequence enrolment asks about thousands of addresses at a time.
    wanted = RawSQL("SELECT unnest(%s::varchar[])", (list(by_hash),))
    hashes = Suppression.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True), email_hash__in=wanted)
    return {by_hash[value] for value in hashes.values_list("email_hash", flat=True)}


def erased_hashes(*, hashes) -> set[str]:
    """Which of these identities (dedup or suppression hashes) belong to people erased for privacy: nobody may
    import, list, pull, enrich, identify or email them again."""
    wanted = [value for value in hashes if value]
    if not wanted:
        return set()
    rows = Suppression.objects.filter(workspace__isnull=True, email_hash__in=RawSQL("SELECT unnest(%s::varchar[])", (wanted,)))
    return set(rows.values_list("email_hash", flat=True))


def suppressions_list(*, workspace: Workspace, query: str = "") -> QuerySet[Suppression]:
    rows = Suppression.objects.filter(workspace=workspace).order_by("-created_at", "-id")
    if query:
        rows = rows.filter(email__icontains=query.strip().lower())
    return rows


# The fields a possible-duplicate card shows side by side, differences highlighted.
DUPLICATE_FIELDS = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("email_verified", "Email verified"),
    ("email_status", "Email status"),
    ("phone", "Phone"),
    ("title", "Title"),
    ("company_name", "Company"),
    ("company_domain", "Domain"),
    ("city", "City"),
    ("state", "State"),
    ("linkedin_url", "LinkedIn"),
    ("source", "Source"),
    ("status", "Status"),
    ("created_at", "Added"),
)


@dataclass
class DuplicateCard:
    pair: DuplicatePair
    left: object
    right: object
    rows: list[tuple[str, object, object, bool]]


def duplicate_cards(pairs, records: dict, fields=DUPLICATE_FIELDS) -> list[DuplicateCard]:
    """Pairs with both records side by side, (label, left, right, differ) per field; pairs whose record went (a
    merge or a delete since the scan) are left out until the next scan removes them."""
    cards = []
    for pair in pairs:
        left, right = records.get(pair.low_id), records.get(pair.high_id)
        if left is None or right is None:
            continue
        rows = []
        for field, label in fields:
            if not hasattr(left, field):
                continue
            a, b = getattr(left, field), getattr(right, field)
            if a or b:
                differ = a.date() != b.date() if field == "created_at" else a != b
                rows.append((label, a, b, differ))
        cards.append(DuplicateCard(pair=pair, left=left, right=right, rows=rows))
    return cards


def workspace_duplicate_cards(*, workspace: Workspace, limit: int = 50) -> list[DuplicateCard]:
    """The workspace's open possible duplicates, most alike first: two queries whatever the number."""
    pairs = list(
        DuplicatePair.objects.filter(
            kind=DuplicatePair.Kind.LEAD, workspace=workspace, status=DuplicatePair.Status.OPEN
        ).order_by("-score", "id")[:limit]
    )
    ids = {pk for pair in pairs for pk in (pair.low_id, pair.high_id)}
    return duplicate_cards(pairs, Lead.objects.filter(workspace=workspace).in_bulk(ids))


def duplicate_pair_get(*, workspace: Workspace, pair_id) -> DuplicatePair:
    pair = DuplicatePair.objects.filter(kind=DuplicatePair.Kind.LEAD, workspace=workspace, pk=pair_id).first()
    if pair is None:
        raise NotFound("That possible duplicate does not exist in this workspace.")
    return pair


def workspace_duplicate_count(*, workspace: Workspace) -> int:
    return DuplicatePair.objects.filter(
        kind=DuplicatePair.Kind.LEAD, workspace=workspace, status=DuplicatePair.Status.OPEN
    ).count()
