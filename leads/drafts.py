"""Files dropped in the browser but not yet submitted (the column-mapping step sits between): a partner's
upload or a buyer's enrichment list.

A draft lives on disk under MEDIA_ROOT/drafts/ and in the user's session, under the kind of upload it is
for; it becomes an upload when the mapping is confirmed. Abandoned drafts are pruned by a schedule, so
storage does not fill with them.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File

from cursive.errors import ApplicationError

from .csv_import import FileRejected, check_size, detect_format

logger = logging.getLogger(__name__)


class DraftExpired(Exception):
    pass


def _draft_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "drafts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _session_key(kind: str) -> str:
    return f"{kind}_drafts"


def _draft_save(session, *, kind: str, workspace_id: int, incoming, **extra) -> tuple[str, Path]:
    """Write the uploaded file to disk and remember it (with `extra`, e.g. the price) in the session under
    `kind`; returns its token and path."""
    token = secrets.token_urlsafe(12)
    path = _draft_dir() / f"{workspace_id}-{token}.csv"
    with open(path, "wb") as out:
        for piece in incoming.chunks():
            out.write(piece)
    drafts = session.get(_session_key(kind), {})
    drafts[token] = {"path": str(path), "name": incoming.name, "workspace": workspace_id, **extra}
    session[_session_key(kind)] = drafts
    return token, path


def draft_start(session, *, kind: str, workspace_id: int, incoming, **extra) -> str:
    """Keep a dropped file as a draft when it can be read as a CSV; returns its token. FileRejected (nothing kept)
    saying what is wrong: too big, empty, binary, no header."""
    try:
        check_size(incoming.size)
    except ApplicationError as exc:
        raise FileRejected(exc.message) from exc
    token, path = _draft_save(session, kind=kind, workspace_id=workspace_id, incoming=incoming, **extra)
    try:
        detect_format(path)
    except FileRejected:
        draft_discard(session, kind=kind, token=token)
        raise
    return token


def draft_submit(session, *, kind: str, token: str, draft: dict, create):
    """Hand the draft's file to `create(file)` (the service that stores and queues it) and return what it made;
    the draft goes only once that succeeded, so a refused mapping can be fixed and sent again."""
    with open(draft["path"], "rb") as handle:
        made = create(File(handle, name=draft["name"]))
    draft_discard(session, kind=kind, token=token)
    return made


def draft_get(session, *, kind: str, workspace_id: int, token: str) -> dict:
    draft = session.get(_session_key(kind), {}).get(token)
    if draft is None or draft["workspace"] != workspace_id or not Path(draft["path"]).exists():
        raise DraftExpired("This upload draft expired; start the upload again.")
    return draft


def draft_discard(session, *, kind: str, token: str) -> None:
    drafts = session.get(_session_key(kind), {})
    draft = drafts.pop(token, None)
    session[_session_key(kind)] = drafts
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
        except FileNotFoundError:  # its owner submitted or discarded it meanwhile
            continue
    if pruned:
        logger.info("pruned abandoned upload drafts", extra={"pruned": pruned})
    return pruned
