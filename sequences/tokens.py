"""The signed tokens in sequence emails: the unsubscribe link (List-Unsubscribe), the click-tracking redirect and
the open pixel. Signed so nobody can unsubscribe someone else or turn Cursive into an open redirect; they name a
Message, which names the workspace, the enrolment and the address."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, reverse

_UNSUBSCRIBE_SALT = "cursive.sequences.unsubscribe"
_CLICK_SALT = "cursive.sequences.click"
_OPEN_SALT = "cursive.sequences.open"


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


_SLOT = "token-slot"  # stands for the token while the route is reversed once


@lru_cache(maxsize=32)
def _route(name: str, script_prefix: str, urlconf: str, with_token: bool) -> tuple[str, str]:
    """(before, after) the token in the route's path, reversed once per URL configuration: reverse() per link
    cost the sender more than signing it. Tokens are URL-safe base64 and colons, which reverse() leaves as they
    are, so putting one in between gives what reverse() would."""
    if not with_token:
        return reverse(name), ""
    before, _, after = reverse(name, args=[_SLOT]).rpartition(_SLOT)
    return before, after


def _path(name: str, token: str | None = None) -> str:
    before, after = _route(name, get_script_prefix(), settings.ROOT_URLCONF, token is not None)
    return before + (token or "") + after


def unsubscribe_token(message_pk: int) -> str:
    return signing.dumps(message_pk, salt=_UNSUBSCRIBE_SALT)


def unsubscribe_message_pk(token: str) -> int | None:
    """The message an unsubscribe token names (never expires: people unsubscribe from old emails), or None."""
    try:
        value = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError):
        return None
    return value if isinstance(value, int) else None


def unsubscribe_url(message_pk: int) -> str:
    return _absolute(_path("sequences:unsubscribe", unsubscribe_token(message_pk)))


def click_url(message_pk: int, destination: str) -> str:
    token = signing.dumps([message_pk, destination], salt=_CLICK_SALT, compress=True)
    return _absolute(_path("sequences:click") + "?" + urlencode({"t": token}))


def click_target(token: str) -> tuple[int, str] | None:
    """(message pk, destination) of a click token, or None for a forged one."""
    try:
        value = signing.loads(token, salt=_CLICK_SALT)
    except (signing.BadSignature, ValueError):
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str)):
        return None
    return value[0], value[1]


def open_url(message_pk: int) -> str:
    return _absolute(_path("sequences:open", signing.dumps(message_pk, salt=_OPEN_SALT)))


def open_message_pk(token: str) -> int | None:
    try:
        value = signing.loads(token, salt=_OPEN_SALT)
    except (signing.BadSignature, ValueError):
        return None
    return value if isinstance(value, int) else None
