"""Signed click ids: the links of Cursive's emails carry one (`cursive_cid`), naming the recipient to the
workspace's own pixel when they click through. Signed so nobody can claim to be someone else, bound to the
workspace so a click never names a person to another workspace's site, and expiring."""

from __future__ import annotations

from django.core import signing

QUERY_PARAMETER = "cursive_cid"
_SALT = "cursive.visitors.email_click"
MAX_AGE_SECONDS = 90 * 86_400


def click_id_make(*, workspace_id: int, email: str) -> str:
    return signing.dumps({"w": workspace_id, "e": email}, salt=_SALT, compress=True)


def click_id_email(token: str, *, workspace_id: int) -> str | None:
    """The email a click id names for this workspace, or None for a forged, expired or foreign one."""
    try:
        payload = signing.loads(token, salt=_SALT, max_age=MAX_AGE_SECONDS)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("w") != workspace_id or not isinstance(payload.get("e"), str):
        return None
    return payload["e"]
