"""Reads of the public pages: nothing here belongs to a workspace, so nothing takes one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min

from credits.models import CreditPackage
from credits.selectors import active_packages
from marketplace.models import Listing

from .legal import DEFAULT_PAGES
from .models import Experiment, LegalPage, Variant

# What every anonymous page view would otherwise read again: it changes when staff edit packages or tests, rarely.
# Kept in this process's cache for PUBLIC_PAGES_CACHE_SECONDS; a change made in this process clears it at once
# (website.apps), other processes see it within that time.
_CACHE_KEYS = ("website:package_offers", "website:credit_prices", "website:home_headline")


def _cached(key: str, compute):
    return cache.get_or_set(key, compute, settings.PUBLIC_PAGES_CACHE_SECONDS)


def public_cache_clear(**kwargs) -> None:
    cache.delete_many(_CACHE_KEYS)


@dataclass(frozen=True)
class PackageOffer:
    package: CreditPackage
    cents_per_credit: Decimal
    savings_percent: int

    @property
    def dollars_per_credit(self) -> str:
        return f"${self.cents_per_credit / 100:,.2f}"


def package_offers() -> list[PackageOffer]:
    """The packages on sale, each with its price per credit and what it saves against the smallest package."""
    return _cached("website:package_offers", _package_offers)


def _package_offers() -> list[PackageOffer]:
    packages = list(active_packages())
    if not packages:
        return []
    smallest = min(packages, key=lambda package: (package.credits, package.pk))
    base = Decimal(smallest.price_cents) / smallest.credits
    offers = []
    for package in packages:
        per_credit = Decimal(package.price_cents) / package.credits
        savings = ((1 - per_credit / base) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        offers.append(
            PackageOffer(package=package, cents_per_credit=package.cents_per_credit, savings_percent=max(int(savings), 0))
        )
    return offers


@dataclass(frozen=True)
class CreditPrices:
    """What one thing costs in credits, from the settings and the listings that set it."""

    segment_pull: Decimal
    enrichment_row: Decimal
    visitor_enrichment: Decimal
    card_cents_per_credit: int
    bounce_refund_days: int
    listing_min: Decimal | None
    listing_max: Decimal | None


def credit_prices() -> CreditPrices:
    return _cached("website:credit_prices", _credit_prices)


def _credit_prices() -> CreditPrices:
    # Partners price their own listings: the range on sale now, read from the index of available listings by price.
    listings = Listing.objects.filter(status=Listing.Status.AVAILABLE).aggregate(low=Min("price"), high=Max("price"))
    return CreditPrices(
        segment_pull=settings.SEGMENT_PULL_PRICE,
        enrichment_row=settings.ENRICHMENT_PRICE_PER_ROW,
        visitor_enrichment=settings.VISITOR_ENRICHMENT_PRICE,
        card_cents_per_credit=settings.CREDIT_VALUE_CENTS,
        bounce_refund_days=settings.BOUNCE_REFUND_DAYS,
        listing_min=listings["low"],
        listing_max=listings["high"],
    )


@dataclass(frozen=True)
class Headline:
    """What the home page's headline is now: the running experiment's variants to choose from, else the winner
    of the last test, else nothing (the page's own headline)."""

    experiment: Experiment | None
    variants: list[Variant]
    winner: Variant | None


def home_headline() -> Headline:
    return _cached("website:home_headline", _home_headline)


def _home_headline() -> Headline:
    running = Experiment.objects.filter(status=Experiment.Status.RUNNING).first()
    if running is not None:
        variants = list(running.variants.all())
        if variants:
            return Headline(experiment=running, variants=variants, winner=None)
    last = Experiment.objects.filter(status=Experiment.Status.ENDED).select_related("winner").order_by("-ended_at", "-id").first()
    return Headline(experiment=None, variants=[], winner=last.winner if last else None)


def legal_page(*, slug: str) -> tuple[str, str, LegalPage | None]:
    """A legal page's title and Markdown body: the one staff keep in admin, else the default text."""
    page = LegalPage.objects.filter(slug=slug).first()
    if page is not None:
        return page.title, page.body, page
    title, body = DEFAULT_PAGES[slug]
    return title, body, None


def wilson_interval(successes: int, trials: int, *, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default): sound at small counts and at 0 or 100%."""
    if trials <= 0:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


@dataclass(frozen=True)
class VariantResult:
    variant: Variant
    visitors: int
    signups: int
    conversion: float
    low: float
    high: float

    @property
    def percents(self) -> tuple[float, float, float]:
        """Conversion and its interval's bounds, in percent."""
        return self.conversion * 100, self.low * 100, self.high * 100


def experiment_results(*, experiment: Experiment) -> list[VariantResult]:
    variants = experiment.variants.annotate(visitors=Count("assignments"), signups=Count("assignments__signed_up_at"))
    results = []
    for variant in variants:
        low, high = wilson_interval(variant.signups, variant.visitors)
        conversion = variant.signups / variant.visitors if variant.visitors else 0.0
        results.append(VariantResult(variant, variant.visitors, variant.signups, conversion, low, high))
    return results
