"""The packages every installation starts with (staff edit them in admin afterwards)."""

from decimal import Decimal

# label, credits, price in cents, marked popular, position
DEFAULT_PACKAGES = [
    ("Starter", Decimal("100"), 4900, False, 1),
    ("Growth", Decimal("500"), 19900, True, 2),
    ("Pro", Decimal("1000"), 34900, False, 3),
    ("Enterprise", Decimal("5000"), 149900, False, 4),
]


def ensure_default_packages(package_model) -> None:
    """Create the default packages that are missing; works with the real or a migration's historical model."""
    for label, credits, price_cents, popular, position in DEFAULT_PACKAGES:
        package_model.objects.get_or_create(
            label=label,
            defaults={"credits": credits, "price_cents": price_cents, "popular": popular, "position": position},
        )
