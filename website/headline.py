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


def _cookie(request) -> tuple[int, int, str] | None:
    """(experiment id, variant id, token) from the visitor's signed cookie; None when it is missing or not ours."""
    value = request.get_signed_cookie(COOKIE, default=None, salt=COOKIE_SALT)
    try:
        experiment_id, variant_id, token = (value or "").split(":", 2)
        return int(experiment_id), int(variant_id), token
    except ValueError:
        return None


def _remembered(request, experiment_id: int) -> tuple[int, str] | None:
    """(variant id, token) from the visitor's cookie when it was set for this experiment."""
    cookie = _cookie(request)
    if cookie is None or cookie[0] != experiment_id:
        return None
    return cookie[1], cookie[2]


def assignment_token(request) -> str | None:
    """The visitor's assignment token, whatever experiment it was for (the sign-up checks that it still runs)."""
    cookie = _cookie(request)
    return cookie[2] if cookie else None


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
