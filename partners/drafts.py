"""Files a partner has dropped in the browser but not yet submitted (the column-mapping step sits between).

A draft lives on disk under MEDIA_ROOT/drafts/ and in the partner's session; it becomes an Upload when the
mapping is confirmed. Abandoned drafts are pruned by a schedule, so storage does not fill with them.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

from django.conf import settings

SESSION_KEY = "partner_upload_drafts"
logger = logging.getLogger(__name__)


class DraftExpired(Exception):
    pass


def _draft_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "drafts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def draft_save(session, *, workspace_id: int, incoming, price: str) -> tuple[str, Path]:
    """Write the uploaded file to disk and remember it in the session; returns its token and path."""
    token = secrets.token_urlsafe(12)
    path = _draft_dir() / f"{workspace_id}-{token}.csv"
    with open(path, "wb") as out:
        for piece in incoming.chunks():
            out.write(piece)
    drafts = session.get(SESSION_KEY, {})
    drafts[token] = {"path": str(path), "name": incoming.name, "workspace": workspace_id, "price": price}
    session[SESSION_KEY] = drafts
    return token, path


def draft_get(session, *, workspace_id: int, token: str) -> dict:
    draft = session.get(SESSION_KEY, {}).get(token)
    if draft is None or draft["workspace"] != workspace_id or not Path(draft["path"]).exists():
        raise DraftExpired("This upload draft expired; start the upload again.")
    return draft


def draft_discard(session, *, token: str) -> None:
    drafts = session.get(SESSION_KEY, {})
    draft = drafts.pop(token, None)
    session[SESSION_KEY] = drafts
    if draft:
        Path(draft["path"]).unlink(missing_ok=True)


def drafts_prune() -> int:
    """Schedule: delete draft files older than UPLOAD_DRAFT_MAX_AGE_HOURS; returns how many went."""
    cutoff = time.time() - settings.UPLOAD_DRAFT_MAX_AGE_HOURS * 3600
    pruned = 0
    for path in _draft_dir().glob("*.csv"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                pruned += 1
        except FileNotFoundError:  # its partner submitted or discarded it meanwhile
            continue
    if pruned:
        logger.info("pruned abandoned upload drafts", extra={"pruned": pruned})
    return pruned
