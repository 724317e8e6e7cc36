"""`Idempotency-Key` for POSTs that create purchases or checkouts (API.md).

The first request with a key claims it in a row of its own; its successful
answer is stored and replayed to every repeat, which changes nothing. A repeat
that arrives while the first is still running gets 409 rather than a second
purchase. Failed attempts release the key so the client can fix and retry.
Pages that charge (a segment pull) put a one-time key in their form and go
through the same claim, so a double submit charges once too.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from functools import wraps

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from cursive.errors import Conflict, ValidationFailed
from cursive.models import IdempotencyRecord

# A claim older than this belonged to a request that died mid-way; a repeat may take it over.
ABANDONED_AFTER = timedelta(minutes=5)


def request_fingerprint(method: str, path: str, data) -> str:
    body = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


def _claim(*, workspace, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(workspace=workspace, key=key, request_fingerprint=fingerprint), True
    except IntegrityError:
        pass
    taken_over = IdempotencyRecord.objects.filter(
        workspace=workspace, key=key, request_fingerprint=fingerprint, state=IdempotencyRecord.State.STARTED,
        created_at__lt=timezone.now() - ABANDONED_AFTER,
    ).update(created_at=timezone.now())
    return IdempotencyRecord.objects.get(workspace=workspace, key=key), bool(taken_over)


def run_once(*, workspace, key: str, fingerprint: str, call) -> tuple[int, object, bool]:
    """Run `call` (which answers `(status_code, body)`) once per workspace and key: its successful answer is
    stored and returned to every repeat of the same request, which changes nothing. Returns the status code,
    the body and whether it is a replay. Pages whose forms carry a one-time key use it as the API does."""
    if len(key) > 255:
        raise ValidationFailed("Idempotency-Key must be at most 255 characters.", code="invalid_idempotency_key")
    record, owned = _claim(workspace=workspace, key=key, fingerprint=fingerprint)
    if not owned:
        if record.request_fingerprint != fingerprint:
            raise Conflict("This Idempotency-Key was already used for a different request; use a new key.",
                           code="idempotency_key_reused")
        if record.state == IdempotencyRecord.State.DONE:
            return record.status_code, record.response_body, True
        raise Conflict("A request with this Idempotency-Key is still being processed; retry in a moment.",
                       code="idempotency_in_progress")
    try:
        status_code, body = call()
    except BaseException:
        record.delete()
        raise
    if 200 <= status_code < 300:
        record.state = IdempotencyRecord.State.DONE
        record.status_code = status_code
        record.response_body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
        record.save(update_fields=["state", "status_code", "response_body"])
    else:
        record.delete()
    return status_code, body, False


def idempotent(handler):
    @wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return handler(view, request, *args, **kwargs)
        answered = []

        def call():
            answered.append(handler(view, request, *args, **kwargs))
            return answered[0].status_code, answered[0].data

        fingerprint = request_fingerprint(request.method, request.path, request.data)
        status_code, body, replayed = run_once(workspace=request.workspace, key=key, fingerprint=fingerprint,
                                               call=call)
        if replayed:
            return Response(body, status=status_code, headers={"Idempotent-Replayed": "true"})
        return answered[0]

    return wrapper
