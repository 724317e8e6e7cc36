"""The cart: listing ids kept in the session, so it survives navigation (not a purchase, not a hold)."""

from .services import MAX_LEADS_PER_PURCHASE

SESSION_KEY = "marketplace_cart"


def cart_ids(request) -> list[int]:
    return list(request.session.get(SESSION_KEY, []))


def cart_add(request, listing_id: int) -> bool:
    ids = cart_ids(request)
    if listing_id in ids:
        return True
    if len(ids) >= MAX_LEADS_PER_PURCHASE:
        return False
    request.session[SESSION_KEY] = [*ids, listing_id]
    return True


def cart_remove(request, listing_id: int) -> None:
    request.session[SESSION_KEY] = [pk for pk in cart_ids(request) if pk != listing_id]


def cart_clear(request) -> None:
    request.session[SESSION_KEY] = []
