"""`Idempotency-Key` for POSTs that create purchases or checkouts (API.md).

The first request with a key claims it in a row of its own; its successful
answer is stored and replayed to every repeat, which changes nothing. A repeat
that arrives while the first is still running gets 409 rather than a second
purchase. Failed attempts release the key so the client can fix and retry.
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


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


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


def idempotent(handler):
    @wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return handler(view, request, *args, **kwargs)
        if len(key) > 255:
            raise ValidationFailed("Idempotency-Key must be at most 255 characters.", code="invalid_idempotency_key")
        fingerprint = _fingerprint(request)
        record, owned = _claim(workspace=request.workspace, key=key, fingerprint=fingerprint)
        if not owned:
            if record.request_fingerprint != fingerprint:
                raise Conflict("This Idempotency-Key was already used for a different request; use a new key.",
                               code="idempotency_key_reused")
            if record.state == IdempotencyRecord.State.DONE:
                return Response(record.response_body, status=record.status_code,
                                headers={"Idempotent-Replayed": "true"})
            raise Conflict("A request with this Idempotency-Key is still being processed; retry in a moment.",
                           code="idempotency_in_progress")
        try:
            response = handler(view, request, *args, **kwargs)
        except BaseException:
            record.delete()
            raise
        if 200 <= response.status_code < 300:
            record.state = IdempotencyRecord.State.DONE
            record.status_code = response.status_code
            record.response_body = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
            record.save(update_fields=["state", "status_code", "response_body"])
        else:
            record.delete()
        return response

    return wrapper
