"""Which headline an anonymous visitor of the home page sees, and the first-party cookie that keeps it."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from visitors.collect import is_bot

from . import services
from .models import Variant
from .selectors import home_headline

COOKIE = "cursive_headline"
COOKIE_SALT = "website.headline"
COOKIE_MAX_AGE = 180 * 24 * 3600


@dataclass
class Shown:
    variant: Variant | None
    cookie: str | None = None  # a value to set: the visitor was assigned just now


def _remembered(request, experiment_id: int) -> tuple[int, str] | None:
    """(variant id, token) from the visitor's cookie when it was set for this experiment."""
    value = request.get_signed_cookie(COOKIE, default=None, salt=COOKIE_SALT)
    try:
        cookie_experiment, variant_id, token = (value or "").split(":", 2)
        if int(cookie_experiment) == experiment_id:
            return int(variant_id), token
    except ValueError:
        return None
    return None


def assignment_token(request) -> str | None:
    """The visitor's assignment token, whatever experiment it was for (the sign-up checks that it still runs)."""
    value = request.get_signed_cookie(COOKIE, default=None, salt=COOKIE_SALT)
    parts = (value or "").split(":", 2)
    return parts[2] if len(parts) == 3 else None


def headline_for(request) -> Shown:
    """A returning visitor sees the variant their cookie names, with no write; a new one is assigned once.
    Crawlers see the first variant and are not counted. With no test running: the last winner, if any."""
    current = home_headline()
    if current.experiment is None:
        return Shown(variant=current.winner)
    by_id = {variant.pk: variant for variant in current.variants}
    remembered = _remembered(request, current.experiment.pk)
    if remembered and remembered[0] in by_id:
        return Shown(variant=by_id[remembered[0]])
    if is_bot(request.META.get("HTTP_USER_AGENT", "")):
        return Shown(variant=current.variants[0])
    assignment = services.assignment_create(variants=current.variants)
    cookie = f"{current.experiment.pk}:{assignment.variant_id}:{assignment.token}"
    return Shown(variant=by_id[assignment.variant_id], cookie=cookie)


def remember(response, cookie: str) -> None:
    response.set_signed_cookie(
        COOKIE,
        cookie,
        salt=COOKIE_SALT,
        max_age=COOKIE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
