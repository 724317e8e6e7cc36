"""Files dropped in the browser but not yet submitted (the column-mapping step sits between): a partner's
upload or a buyer's enrichment list.

A draft is a file under drafts/ in the default storage (MEDIA_ROOT, or the S3 bucket, so the node that shows the
mapping step need not be the one that took the file) and an entry in the user's session, under the kind of upload
it is for; it becomes an upload when the mapping is confirmed. Abandoned drafts are pruned by a schedule, so
storage does not fill with them.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from cursive.errors import ApplicationError
from cursive.files import StoredFile

from .csv_import import CsvFormat, FileRejected, check_size, detect_format

logger = logging.getLogger(__name__)
DRAFT_DIR = "drafts"


class DraftExpired(Exception):
    pass


def _session_key(kind: str) -> str:
    return f"{kind}_drafts"


def _draft_save(session, *, kind: str, workspace_id: int, incoming, **extra) -> tuple[str, StoredFile]:
    """Store the uploaded file and remember it (with `extra`, e.g. the price) in the session under `kind`;
    returns its token and stored file."""
    token = secrets.token_urlsafe(12)
    stored = default_storage.save(f"{DRAFT_DIR}/{workspace_id}-{token}.csv", incoming)
    drafts = session.get(_session_key(kind), {})
    drafts[token] = {"stored": stored, "name": incoming.name, "workspace": workspace_id, **extra}
    session[_session_key(kind)] = drafts
    return token, StoredFile(default_storage, stored)


def draft_file(draft: dict) -> StoredFile:
    return StoredFile(default_storage, draft["stored"])


def draft_start(session, *, kind: str, workspace_id: int, incoming, **extra) -> str:
    """Keep a dropped file as a draft when it can be read as a CSV; returns its token. FileRejected (nothing kept)
    saying what is wrong: too big, empty, binary, no header."""
    try:
        check_size(incoming.size)
    except ApplicationError as exc:
        raise FileRejected(exc.message) from exc
    token, stored = _draft_save(session, kind=kind, workspace_id=workspace_id, incoming=incoming, **extra)
    try:
        fmt = detect_format(stored)
    except FileRejected:
        draft_discard(session, kind=kind, token=token)
        raise
    # Kept with the draft: detecting it again reads the whole file (the encoding check), from the bucket when
    # files are in S3, on every view of the mapping step.
    session[_session_key(kind)][token]["format"] = {"encoding": fmt.encoding, "delimiter": fmt.delimiter, "header": fmt.header}
    session.modified = True
    return token


def draft_format(draft: dict) -> CsvFormat:
    return CsvFormat(**draft["format"])


def draft_submit(session, *, kind: str, token: str, draft: dict, create):
    """Hand the draft's file to `create(file)` (the service that stores and queues it) and return what it made;
    the draft goes only once that succeeded, so a refused mapping can be fixed and sent again."""
    stored = draft_file(draft)
    with stored.open("rb") as handle:
        file = File(handle, name=draft["name"])
        file.size = stored.size()  # a stream from storage cannot say its own size
        made = create(file)
    draft_discard(session, kind=kind, token=token)
    return made


def draft_get(session, *, kind: str, workspace_id: int, token: str) -> dict:
    draft = session.get(_session_key(kind), {}).get(token)
    # An entry without "format" predates drafts in storage (its file was on one machine's disk), or its file
    # was being checked when the request failed.
    if draft is None or draft["workspace"] != workspace_id or "format" not in draft or not draft_file(draft).exists():
        raise DraftExpired("This upload draft expired; start the upload again.")
    return draft


def draft_discard(session, *, kind: str, token: str) -> None:
    drafts = session.get(_session_key(kind), {})
    draft = drafts.pop(token, None)
    session[_session_key(kind)] = drafts
    if draft and "stored" in draft:
        default_storage.delete(draft["stored"])


def drafts_prune() -> int:
    """Schedule: delete draft files older than UPLOAD_DRAFT_MAX_AGE_HOURS; returns how many went."""
    cutoff = timezone.now() - timedelta(hours=settings.UPLOAD_DRAFT_MAX_AGE_HOURS)
    try:
        _, names = default_storage.listdir(DRAFT_DIR)
    except FileNotFoundError:  # no draft was ever kept here
        return 0
    pruned = 0
    for name in names:
        path = f"{DRAFT_DIR}/{name}"
        try:
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
                pruned += 1
        except FileNotFoundError:  # its owner submitted or discarded it meanwhile
            continue
    if pruned:
        logger.info("pruned abandoned upload drafts", extra={"pruned": pruned})
    return pruned
