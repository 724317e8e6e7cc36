"""Reads of the marketplace: browsing listings (everyone) and purchases (scoped to the buyer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Workspace
from cursive.errors import NotFound

from .models import LeadPurchase, LeadPurchaseItem, Listing

SORTS = {
    "-quality": ("-quality", "-id"),
    "price": ("price", "id"),
    "-created": ("-listed_at", "-id"),
}


@dataclass
class ListingFilters:
    industry: list[str] = field(default_factory=list)
    state: list[str] = field(default_factory=list)
    company_size: list[str] = field(default_factory=list)
    seniority: list[str] = field(default_factory=list)
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    quality_min: int | None = None
    age_days: int | None = None
    has_phone: bool | None = None
    has_linkedin: bool | None = None
    q: str = ""
    sort: str = "-quality"


def available_listings(*, filters: ListingFilters, exclude_partner: Workspace | None = None) -> QuerySet[Listing]:
    listings = Listing.objects.filter(status=Listing.Status.AVAILABLE)
    for name in ("industry", "state", "company_size", "seniority"):
        values = getattr(filters, name)
        if values:
            listings = listings.filter(**{f"{name}__in": values})
    if filters.price_min is not None:
        listings = listings.filter(price__gte=filters.price_min)
    if filters.price_max is not None:
        listings = listings.filter(price__lte=filters.price_max)
    if filters.quality_min is not None:
        listings = listings.filter(quality__gte=filters.quality_min)
    if filters.age_days is not None:
        listings = listings.filter(listed_at__gte=timezone.now() - timedelta(days=filters.age_days))
    if filters.has_phone is not None:
        listings = listings.filter(has_phone=filters.has_phone)
    if filters.has_linkedin is not None:
        listings = listings.filter(has_linkedin=filters.has_linkedin)
    if filters.q.strip():
        listings = listings.filter(search=SearchQuery(filters.q.strip(), search_type="websearch", config="simple"))
    if exclude_partner is not None:
        listings = listings.exclude(partner=exclude_partner)
    return listings


# The distinct values of one column among available listings, in order, by hopping through the column's partial
# index one value at a time (a loose index scan): a few dozen index probes instead of reading every listing.
_FACET = """
WITH RECURSIVE facet AS (
    (SELECT {column} AS value FROM marketplace_listing WHERE status = 'available' AND {column} > '' ORDER BY {column} LIMIT 1)
    UNION ALL
    SELECT (SELECT {column} FROM marketplace_listing WHERE status = 'available' AND {column} > facet.value
            ORDER BY {column} LIMIT 1)
    FROM facet WHERE facet.value IS NOT NULL
)
SELECT value FROM facet WHERE value IS NOT NULL LIMIT %s
"""
FACET_VALUES = 100
# The sidebar's values change when a new industry or state goes on sale or the last of one sells, which a minute's
# delay hides from nobody; every browse would otherwise ask again.
FACETS_CACHE_KEY = "marketplace-facets"
FACETS_SECONDS = 60


def _facets_on_sale() -> dict[str, list[str]]:
    facets = {}
    with connection.cursor() as cursor:
        for name in ("industry", "state"):
            cursor.execute(_FACET.format(column=name), [FACET_VALUES])
            facets[name] = [row[0] for row in cursor.fetchall()]
    return facets


def listing_facets() -> dict[str, list[str]]:
    """The values the browse sidebar offers, from what is actually on sale (at most FACETS_SECONDS old)."""
    return cache.get_or_set(FACETS_CACHE_KEY, _facets_on_sale, FACETS_SECONDS)


def listing_count(*, listings: QuerySet[Listing], cap: int) -> int:
    """How many listings match, counted no further than cap + 1: past the cap the page says "1,000+", and the
    count never reads more than that many index entries however many are on sale."""
    return listings.order_by()[: cap + 1].count()


def listings_by_ids(*, ids: list[int]) -> QuerySet[Listing]:
    return Listing.objects.filter(pk__in=ids).order_by("pk")


def workspace_purchases(*, workspace: Workspace) -> QuerySet[LeadPurchase]:
    return LeadPurchase.objects.filter(workspace=workspace)


def purchase_get(*, workspace: Workspace, purchase_id) -> LeadPurchase:
    purchase = workspace_purchases(workspace=workspace).filter(pk=purchase_id).first()
    if purchase is None:
        raise NotFound("That purchase does not exist in this workspace.")
    return purchase


def purchase_items(*, purchase: LeadPurchase) -> QuerySet[LeadPurchaseItem]:
    return purchase.items.select_related("listing", "lead").order_by("listing_id")


def purchase_leads(*, purchase: LeadPurchase):
    """The buyer's copies of a completed purchase's leads (full contact details)."""
    from leads.models import Lead

    lead_ids = purchase.items.filter(is_sale=True).values_list("lead_id", flat=True)
    return Lead.objects.filter(workspace=purchase.workspace, pk__in=lead_ids).order_by("pk")
