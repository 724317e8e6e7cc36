"""`Idempotency-Key` for POSTs that create purchases or checkouts (docs/api.md, Idempotency).

The first request with a key claims it in a row of its own; its successful
answer is stored and replayed to every repeat, which changes nothing. A repeat
that arrives while the first is still running gets 409 rather than a second
purchase. Failed attempts release the key so the client can fix and retry.
Pages that charge (a segment pull) put a one-time key in their form and go
through the same claim, so a double submit charges once too.

"Still running" is a PostgreSQL advisory lock held by the request's own
connection, not a timestamp: when a web worker dies mid-request its connection
closes and the lock goes with it, so the client's retry takes over at once
instead of waiting minutes for an abandoned claim to age. Operations that only
touch the database (credit purchases, pulls) store their answer in the same
transaction as their effect (`atomic`): a request that dies leaves neither, and
its retry does the work once. Operations that call Stripe cannot hold a
transaction across the call; their retry after a crash starts a new checkout.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager, nullcontext, suppress
from functools import wraps

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, transaction
from rest_framework.response import Response

from cursive.errors import Conflict, ValidationFailed
from cursive.locks import try_lock_for_session, unlock_for_session
from cursive.models import IdempotencyRecord


def request_fingerprint(method: str, path: str, data) -> str:
    body = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


@contextmanager
def _running(workspace, key: str):
    """Hold the key's session-level advisory lock while the request runs; 409 when another request holds it."""
    name = f"idempotency:{workspace.pk}:{key}"
    if not try_lock_for_session(name):
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry in a moment.",
            code="idempotency_in_progress",
        )
    try:
        yield
    finally:
        # A connection lost meanwhile (a database restart) took its locks with it.
        with suppress(DatabaseError):
            unlock_for_session(name)


def run_once(*, workspace, key: str, fingerprint: str, call, atomic: bool = False) -> tuple[int, object, bool]:
    """Run `call` (which answers `(status_code, body)`) once per workspace and key: its successful answer is
    stored and returned to every repeat of the same request, which changes nothing. Returns the status code,
    the body and whether it is a replay. `atomic` stores the answer in the transaction of the call's own
    writes; only for calls that make no request to another service."""
    if len(key) > 255:
        raise ValidationFailed("Idempotency-Key must be at most 255 characters.", code="invalid_idempotency_key")
    with _running(workspace, key):
        record, created = IdempotencyRecord.objects.get_or_create(
            workspace=workspace, key=key, defaults={"request_fingerprint": fingerprint}
        )
        if record.request_fingerprint != fingerprint:
            raise Conflict(
                "This Idempotency-Key was already used for a different request; use a new key.", code="idempotency_key_reused"
            )
        if record.state == IdempotencyRecord.State.DONE:
            return record.status_code, record.response_body, True
        # Not done and nobody holds the lock: new, or its first request died; either way this one does the work.
        try:
            with transaction.atomic() if atomic else nullcontext():
                status_code, body = call()
                _settle(record, status_code, body)
        except BaseException:
            record.delete()
            raise
    return status_code, body, False


def _settle(record: IdempotencyRecord, status_code: int, body) -> None:
    if 200 <= status_code < 300:
        record.state = IdempotencyRecord.State.DONE
        record.status_code = status_code
        record.response_body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
        record.save(update_fields=["state", "status_code", "response_body"])
    else:
        record.delete()


def idempotent(*, atomic=False):
    """Honour Idempotency-Key on an API view method. `atomic` (a bool, or a function of the request) says
    whether the operation touches only the database, so its answer can be stored in its own transaction."""

    def decorate(handler):
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
            status_code, body, replayed = run_once(
                workspace=request.workspace,
                key=key,
                fingerprint=fingerprint,
                call=call,
                atomic=atomic(request) if callable(atomic) else atomic,
            )
            if replayed:
                return Response(body, status=status_code, headers={"Idempotent-Replayed": "true"})
            return answered[0]

        return wrapper

    return decorate
