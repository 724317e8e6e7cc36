"""Domain events: what happened in a workspace, for whatever reacts to it after commit (webhooks, alerts).

An app records an event with `emit()` inside the transaction of the operation (an outbox row): a rolled-back
purchase emits nothing, a committed one always has its event. Apps never import the consumers; consumers
register in their `ready()` to be told, after commit, that events are waiting (`on_emitted`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .models import OutboxEvent, new_event_id
from .registry import Registry

EVENT_TYPES = (
    "lead.created",
    "lead.updated",
    "lead.scored",
    "lead.erased",
    "visitor.identified",
    "purchase.completed",
    "credits.low",
    "upload.reviewed",
    "enrichment.completed",
    "sequence.replied",
    "sequence.completed",
    "webhook.test",
)
# Payloads carry ids and the fields a CRM needs: a receiver fetches the rest through the API.
MAX_DATA_BYTES = 20_000

CONSUMERS: Registry[Callable[[], None]] = Registry("event consumers")


def on_emitted(name: str, wake: Callable[[], None]) -> None:
    """`wake()` runs after the commit of each transaction that emitted events; it should be cheap and may be
    called more often than needed."""
    CONSUMERS.register(name, wake)


def emit(*, workspace, type: str, data: dict) -> OutboxEvent:
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}; add it to cursive.events.EVENT_TYPES.")
    if len(json.dumps(data, cls=DjangoJSONEncoder)) > MAX_DATA_BYTES:
        raise ValueError(f"The {type} event's data is over {MAX_DATA_BYTES} bytes; send ids and key fields only.")
    event = OutboxEvent.objects.create(workspace=workspace, type=type, data=data)
    transaction.on_commit(_wake_consumers)
    return event


def emit_many(*, workspace, type: str, items: list[dict]) -> int:
    """One event per item (a pull of 1,000 people is 1,000 `lead.created`), in one insert."""
    if not items:
        return 0
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}; add it to cursive.events.EVENT_TYPES.")
    # One JSON document rather than bulk_create's arrays: quoting 1,000 payloads into a text[] literal (every
    # quote escaped by a regular expression in Python) took ~200 ms of a 1,000-person segment pull.
    rows = json.dumps([{"id": new_event_id(), "data": data} for data in items], cls=DjangoJSONEncoder)
    with connection.cursor() as cursor:
        cursor.execute(
            _EMIT_MANY_SQL.format(table=OutboxEvent._meta.db_table),
            {"workspace": workspace.pk, "type": type, "now": timezone.now(), "rows": rows},
        )
    transaction.on_commit(_wake_consumers)
    return len(items)


# In the items' order, so that event ids follow it as they did with bulk_create.
_EMIT_MANY_SQL = """
INSERT INTO {table} (public_id, workspace_id, type, data, created_at)
SELECT item.row ->> 'id', %(workspace)s, %(type)s, item.row -> 'data', %(now)s
FROM jsonb_array_elements(%(rows)s::jsonb) WITH ORDINALITY AS item(row, position)
ORDER BY item.position
"""


def events_recorded() -> None:
    """Events were written by SQL in this transaction (the marketplace's purchase function inserts its outbox rows
    itself, with the types of EVENT_TYPES): the consumers are woken after commit, as `emit()` does."""
    transaction.on_commit(_wake_consumers)


def _wake_consumers() -> None:
    for wake in CONSUMERS.values():
        wake()
