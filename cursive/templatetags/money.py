from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def dollars(cents) -> str:
    """Integer cents as dollars: 149900 -> $1,499.00."""
    if cents in (None, ""):
        return ""
    return f"${Decimal(int(cents)) / 100:,.2f}"


@register.filter
def credits(amount) -> str:
    """A credit amount with thousands separators and 2 places: 1500 -> 1,500.00."""
    if amount in (None, ""):
        return ""
    return f"{Decimal(amount):,.2f}"
