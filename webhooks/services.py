"""Every write to webhook endpoints and deliveries, and the delivery engine the workers run (tasks.py).

An event emitted by any app (cursive.events) is dispatched after commit into one Delivery per enabled
endpoint that wants it; each endpoint's deliveries go out in the order their events happened, signed as the
Standard Webhooks specification says, retried on RETRY_SCHEDULE (about three days), and an endpoint that
keeps failing is warned about after a day and disabled after five.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.models import OnboardingStep, Workspace
from accounts.services import onboarding_step_complete
from cursive import crypto, outbound
from cursive.errors import NotFound, ValidationFailed
from cursive.events import EVENT_TYPES, emit
from cursive.jobs import job_enqueue
from cursive.locks import try_lock_for_session, unlock_for_session
from cursive.models import OutboxEvent

from . import slack
from .models import Delivery, Endpoint, SlackAlertSent, new_secret

logger = logging.getLogger("cursive.webhooks")

SUBSCRIBABLE = tuple(event for event in EVENT_TYPES if event != "webhook.test")
RETRY_SCHEDULE = [
    dt.timedelta(seconds=5),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=5),
    *[dt.timedelta(hours=10)] * 6,
]
RETRY_AFTER_MOST = dt.timedelta(hours=24)
SECRET_OVERLAP = dt.timedelta(hours=24)
UNREADABLE_SECRET = (
    "The endpoint's signing secret cannot be decrypted with this server's FIELD_ENCRYPTION_KEYS (the keys changed). "
    "Rotate the secret and give the new one to the receiver."
)
WARN_AFTER = dt.timedelta(days=1)
DISABLE_AFTER = dt.timedelta(days=5)
TIMEOUT_SECONDS = 15.0
KEEP_BODY_BYTES = 2048
MAX_ENDPOINTS_PER_WORKSPACE = 50


# --- Endpoints -----------------------------------------------------------------------------------------------


def _events(events) -> list[str]:
    if events is None:
        return []
    if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
        raise ValidationFailed("`events` is a list of event types.", fields={"events": ["A list of event types."]})
    unknown = sorted(set(events) - set(SUBSCRIBABLE))
    if unknown:
        raise ValidationFailed(
            f"Unknown event types: {', '.join(unknown)}.", fields={"events": [f"Use any of: {', '.join(SUBSCRIBABLE)}."]}
        )
    return sorted(set(events))


def _url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 2000:
        raise ValidationFailed("Keep the URL under 2,000 characters.", fields={"url": ["Too long."]})
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise ValidationFailed(exc.message, fields={"url": [exc.message]}) from exc
    return url


def endpoint_create(
    *,
    workspace: Workspace,
    url: str,
    events=None,
    description: str = "",
    kind: str = Endpoint.Kind.WEBHOOK,
    min_score: int | None = None,
    cooldown_minutes: int = 60,
) -> Endpoint:
    if kind not in Endpoint.Kind.values:
        raise ValidationFailed("Choose a webhook or a Slack endpoint.", fields={"kind": ["Unknown kind."]})
    with transaction.atomic():
        # Serialises a workspace's creations so the limit holds under concurrent requests.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        if Endpoint.objects.filter(workspace=workspace).count() >= MAX_ENDPOINTS_PER_WORKSPACE:
            raise ValidationFailed(f"A workspace can have at most {MAX_ENDPOINTS_PER_WORKSPACE} endpoints.")
        endpoint = Endpoint.objects.create(
            workspace=workspace,
            kind=kind,
            url=_url(url),
            events=_events(events),
            description=(description or "").strip()[:300],
            min_score=min_score,
            cooldown_minutes=max(0, int(cooldown_minutes)),
        )
        onboarding_step_complete(workspace=workspace, step=OnboardingStep.Key.ADD_WEBHOOK)
        return endpoint


def _endpoint_for_update(*, workspace: Workspace, endpoint_id) -> Endpoint:
    endpoint = Endpoint.objects.select_for_update().filter(workspace=workspace, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("That webhook endpoint does not exist in this workspace.")
    return endpoint


@transaction.atomic
def endpoint_update(*, workspace: Workspace, endpoint_id, **changes) -> Endpoint:
    endpoint = _endpoint_for_update(workspace=workspace, endpoint_id=endpoint_id)
    if "url" in changes:
        endpoint.url = _url(changes["url"])
    if "events" in changes:
        endpoint.events = _events(changes["events"])
    if "description" in changes:
        endpoint.description = (changes["description"] or "").strip()[:300]
    if "min_score" in changes:
        endpoint.min_score = changes["min_score"]
    if "cooldown_minutes" in changes:
        endpoint.cooldown_minutes = max(0, int(changes["cooldown_minutes"]))
    status = changes.get("status")
    if status is not None:
        if status not in Endpoint.Status.values:
            raise ValidationFailed("`status` is enabled or disabled.", fields={"status": ["enabled or disabled."]})
        if status == Endpoint.Status.DISABLED and endpoint.status == Endpoint.Status.ENABLED:
            endpoint.status, endpoint.disabled_by, endpoint.disabled_at = status, Endpoint.DisabledBy.USER, timezone.now()
        elif status == Endpoint.Status.ENABLED and endpoint.status == Endpoint.Status.DISABLED:
            # disabled_at stays: it is where "replay what was missed" starts.
            endpoint.status, endpoint.disabled_by = status, ""
            endpoint.failing_since = endpoint.failure_warning_sent_at = None
            Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).update(next_attempt_at=timezone.now())
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_delete(*, workspace: Workspace, endpoint_id) -> None:
    _endpoint_for_update(workspace=workspace, endpoint_id=endpoint_id).delete()


@transaction.atomic
def endpoint_rotate_secret(*, workspace: Workspace, endpoint_id) -> Endpoint:
    """A new secret; the old one keeps signing alongside for SECRET_OVERLAP, so receivers can switch over."""
    endpoint = _endpoint_for_update(workspace=workspace, endpoint_id=endpoint_id)
    try:
        endpoint.previous_secret = endpoint.secret
    except crypto.SecretUnreadable:
        # No configured key opens it, so it could not sign alongside: the new secret starts alone.
        endpoint.previous_secret = ""
    endpoint.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at"])
    return endpoint


@transaction.atomic
def endpoint_send_test(*, workspace: Workspace, endpoint_id) -> OutboxEvent:
    endpoint = _endpoint_for_update(workspace=workspace, endpoint_id=endpoint_id)
    return emit(
        workspace=workspace,
        type="webhook.test",
        data={"endpoint_id": endpoint.pk, "message": "A test event from Cursive: your endpoint receives and verifies."},
    )


@transaction.atomic
def delivery_retry(*, workspace: Workspace, endpoint_id, delivery_id) -> Delivery:
    """Deliver that message again now, whatever became of it."""
    endpoint = _endpoint_for_update(workspace=workspace, endpoint_id=endpoint_id)
    delivery = Delivery.objects.select_for_update().filter(endpoint=endpoint, pk=delivery_id).first()
    if delivery is None:
        raise NotFound("That delivery does not exist for this endpoint.")
    delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    return delivery


@transaction.atomic
def endpoint_replay(*, workspace: Workspace, endpoint_id, since: dt.datetime) -> int:
    """Deliver again, in order, every event since `since` that the endpoint wants and did not receive (after an
    outage, or what was missed while it was disabled). Returns how many will be delivered."""
    endpoint = _endpoint_for_update(workspace=workspace, endpoint_id=endpoint_id)
    events = OutboxEvent.objects.filter(workspace=workspace, created_at__gte=since).exclude(type="webhook.test")
    if endpoint.events:
        events = events.filter(type__in=endpoint.events)
    received = Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.SUCCEEDED).values("event_id")
    missed = list(events.exclude(pk__in=received).values_list("pk", flat=True))
    now = timezone.now()
    Delivery.objects.filter(endpoint=endpoint, event_id__in=missed).update(status=Delivery.Status.PENDING, next_attempt_at=now)
    Delivery.objects.bulk_create(
        [Delivery(endpoint=endpoint, event_id=event_id, next_attempt_at=now) for event_id in missed], ignore_conflicts=True
    )
    return len(missed)


# --- Dispatch: outbox -> deliveries ----------------------------------------------------------------------------

_TAKE_UNDISPATCHED = """
SELECT id FROM cursive_outboxevent WHERE dispatched_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
"""


# One statement for a dispatch's deliveries: bulk_create's model instances were about half of dispatching's CPU
# (bench/webhooks.py, profile_one_loop). Every column is given: the model's defaults are Python-side.
_INSERT_DELIVERIES = """
INSERT INTO webhooks_delivery (endpoint_id, event_id, next_attempt_at, created_at, status, attempts, response_body, error)
SELECT endpoint_id, event_id, next_attempt_at, %s, 'pending', 0, '', ''
FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS v(endpoint_id, event_id, next_attempt_at)
ON CONFLICT (endpoint_id, event_id) DO NOTHING
"""


def outbox_dispatch(*, limit: int = 1000) -> int:
    """Turn events not yet dispatched into deliveries for the endpoints that want them; returns how many events
    were dispatched. Safe to run in several workers at once (each takes rows the others have not locked)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_TAKE_UNDISPATCHED, [limit])
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return 0
        events = list(OutboxEvent.objects.filter(pk__in=ids).order_by("pk"))
        endpoints: dict[int, list[Endpoint]] = {}
        for endpoint in Endpoint.objects.filter(
            workspace_id__in={event.workspace_id for event in events}, status=Endpoint.Status.ENABLED
        ).order_by("pk"):
            endpoints.setdefault(endpoint.workspace_id, []).append(endpoint)
        now = timezone.now()
        routed = [
            (endpoint.pk, event.pk, event.created_at)
            for event in events
            for endpoint in endpoints.get(event.workspace_id, [])
            if _routes(endpoint, event, now)
        ]
        if routed:
            endpoint_ids, event_ids, due = zip(*routed, strict=True)
            with connection.cursor() as cursor:
                cursor.execute(_INSERT_DELIVERIES, [now, list(endpoint_ids), list(event_ids), list(due)])
        OutboxEvent.objects.filter(pk__in=ids).update(dispatched_at=now)
    return len(ids)


def _routes(endpoint: Endpoint, event: OutboxEvent, now: dt.datetime) -> bool:
    if event.type == "webhook.test":
        return event.data.get("endpoint_id") == endpoint.pk
    if not endpoint.wants(event.type):
        return False
    if endpoint.kind == Endpoint.Kind.SLACK:
        return _slack_wants(endpoint, event, now)
    return True


def _slack_wants(endpoint: Endpoint, event: OutboxEvent, now: dt.datetime) -> bool:
    """Slack is for people: only what passes the endpoint's score filter, and one message per subject per
    cool-down, so one busy visitor does not send fifty."""
    # A filter on score applies to what is scored (leads, visitors); a visitor named only by its company's
    # network has no score, so it does not pass a "score at least N" alert.
    if endpoint.min_score is not None and "score" in event.data:
        score = event.data["score"]
        if not isinstance(score, int) or score < endpoint.min_score:
            return False
    subject = slack.subject(event)
    if subject is None or not endpoint.cooldown_minutes:
        return True
    recent = now - dt.timedelta(minutes=endpoint.cooldown_minutes)
    claimed = SlackAlertSent.objects.filter(endpoint=endpoint, subject=subject, sent_at__gte=recent).exists()
    if claimed:
        return False
    SlackAlertSent.objects.update_or_create(endpoint=endpoint, subject=subject, defaults={"sent_at": now})
    return True


# --- Delivery ------------------------------------------------------------------------------------------------

# Each enabled endpoint's oldest pending delivery: the one that must go before any other of that endpoint. A loose
# index scan (one probe of delivery_pending_idx per endpoint with pending deliveries): DISTINCT ON read every
# pending row, 250 ms on each look of each loop with a million queued for an endpoint that is down, against 0.6 ms.
_HEADS = """
WITH RECURSIVE heads AS (
    (SELECT endpoint_id, event_id, next_attempt_at FROM webhooks_delivery
     WHERE status = 'pending' ORDER BY endpoint_id, event_id LIMIT 1)
    UNION ALL
    SELECT later_head.* FROM heads CROSS JOIN LATERAL (
        SELECT d.endpoint_id, d.event_id, d.next_attempt_at FROM webhooks_delivery d
        WHERE d.status = 'pending' AND d.endpoint_id > heads.endpoint_id
        ORDER BY d.endpoint_id, d.event_id LIMIT 1
    ) later_head
)
SELECT heads.endpoint_id, heads.next_attempt_at FROM heads
JOIN webhooks_endpoint e ON e.id = heads.endpoint_id AND e.status = 'enabled'
"""


def _heads() -> list[tuple[int, dt.datetime | None]]:
    with connection.cursor() as cursor:
        cursor.execute(_HEADS)
        return cursor.fetchall()


def due_endpoints(*, now: dt.datetime) -> list[int]:
    """Endpoints whose oldest pending delivery is due: each endpoint waits for its head, so order holds."""
    return [endpoint_id for endpoint_id, due in _heads() if due is None or due <= now]


def next_due_at() -> dt.datetime | None:
    """When the next delivery can be tried (the earliest head), or None when nothing is pending."""
    return min((due for _, due in _heads() if due is not None), default=None)


def payload(event: OutboxEvent) -> bytes:
    return json.dumps(
        {"id": event.public_id, "type": event.type, "created_at": event.created_at.isoformat(), "data": event.data},
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    ).encode()


def signature_headers(endpoint: Endpoint, event: OutboxEvent, body: bytes, now: dt.datetime) -> dict[str, str]:
    """Standard Webhooks headers; during a rotation's overlap both secrets sign (space-separated)."""
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
        and (previous := endpoint.previous_secret)
    ):
        secrets.append(previous)
    text = body.decode()
    return {
        "webhook-id": event.public_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(secret).sign(event.public_id, now, text) for secret in secrets),
    }


@dataclass
class _Attempt:
    ok: bool
    status: int | None = None
    body: str = ""
    error: str = ""
    duration_ms: int | None = None
    retry_after: dt.timedelta | None = None


def _retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    if not value:
        return None
    if value.strip().isdigit():
        return dt.timedelta(seconds=int(value.strip()))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when - now if when and when.tzinfo else None


def _send(endpoint: Endpoint, event: OutboxEvent, client: outbound.OutboundClient, now: dt.datetime) -> _Attempt:
    if endpoint.kind == Endpoint.Kind.SLACK:
        body = slack.message(event)
        headers = {"Content-Type": "application/json"}
    else:
        body = payload(event)
        try:
            headers = {"Content-Type": "application/json", **signature_headers(endpoint, event, body, now)}
        except crypto.SecretUnreadable:
            return _Attempt(ok=False, error=UNREADABLE_SECRET)
    headers["User-Agent"] = "Cursive-Webhooks/1"
    try:
        answer = client.post(endpoint.url, body=body, headers=headers, timeout=TIMEOUT_SECONDS, keep_bytes=KEEP_BODY_BYTES)
    except outbound.OutboundRefused as exc:
        return _Attempt(ok=False, error=exc.message[:300])
    except outbound.OutboundError as exc:
        return _Attempt(ok=False, error=str(exc)[:300])
    return _Attempt(
        ok=200 <= answer.status < 300,
        status=answer.status,
        body=answer.body.decode("utf-8", "replace"),
        duration_ms=answer.duration_ms,
        retry_after=_retry_after(answer.headers.get("retry-after"), now),
    )


def _backoff(attempts: int, retry_after: dt.timedelta | None) -> dt.timedelta:
    planned = RETRY_SCHEDULE[attempts - 1]
    # +-10%: receivers recovering from an outage are not hit by every sender at the same second.
    planned = planned * random.uniform(0.9, 1.1)
    if retry_after is not None:
        planned = max(planned, min(retry_after, RETRY_AFTER_MOST))
    return planned


def endpoint_deliver(
    *, endpoint_id: int, client: outbound.OutboundClient, now: dt.datetime | None = None, batch: int = 200
) -> int:
    """Send the endpoint's due deliveries in order until one fails or none is due; returns how many succeeded.
    One worker at a time per endpoint (a session lock: a worker that dies frees it)."""
    lock = f"webhooks.endpoint:{endpoint_id}"
    if not try_lock_for_session(lock):
        return 0
    try:
        return _deliver_locked(endpoint_id=endpoint_id, client=client, now=now, batch=batch)
    finally:
        unlock_for_session(lock)


def _deliver_locked(*, endpoint_id: int, client, now, batch: int) -> int:
    endpoint = Endpoint.objects.filter(pk=endpoint_id, status=Endpoint.Status.ENABLED).first()
    if endpoint is None:
        return 0
    clock = (lambda: now) if now is not None else timezone.now
    pending = list(
        Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING)
        .select_related("event")
        .order_by("event_id")[:batch]
    )
    succeeded: list[Delivery] = []
    for delivery in pending:
        moment = clock()
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > moment:
            break
        attempt = _send(endpoint, delivery.event, client, moment)
        delivery.attempts += 1
        delivery.last_attempt_at = moment
        delivery.response_status, delivery.response_body = attempt.status, attempt.body
        delivery.error, delivery.duration_ms = attempt.error, attempt.duration_ms
        if attempt.ok:
            delivery.status, delivery.next_attempt_at = Delivery.Status.SUCCEEDED, None
            succeeded.append(delivery)
            continue
        _record_success(endpoint, succeeded)
        _record_failure(endpoint, delivery, attempt, moment)
        return len(succeeded)
    _record_success(endpoint, succeeded)
    return len(succeeded)


_RESULT_FIELDS = [
    "status",
    "attempts",
    "last_attempt_at",
    "next_attempt_at",
    "response_status",
    "response_body",
    "error",
    "duration_ms",
]


# A batch's successes in one statement: bulk_update's CASE per field and row cost about 80% of a delivery loop's
# CPU in building the query (bench/webhooks.py, profile_one_loop).
_RECORD_SUCCESS = """
UPDATE webhooks_delivery AS d
SET status = 'succeeded', next_attempt_at = NULL, attempts = v.attempts, last_attempt_at = v.last_attempt_at,
    response_status = v.response_status, response_body = v.response_body, error = v.error, duration_ms = v.duration_ms
FROM unnest(%s::bigint[], %s::integer[], %s::timestamptz[], %s::integer[], %s::text[], %s::text[], %s::integer[])
    AS v(id, attempts, last_attempt_at, response_status, response_body, error, duration_ms)
WHERE d.id = v.id
"""


def _record_success(endpoint: Endpoint, succeeded: list[Delivery]) -> None:
    if not succeeded:
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                _RECORD_SUCCESS,
                [
                    [delivery.pk for delivery in succeeded],
                    [delivery.attempts for delivery in succeeded],
                    [delivery.last_attempt_at for delivery in succeeded],
                    [delivery.response_status for delivery in succeeded],
                    [delivery.response_body for delivery in succeeded],
                    [delivery.error for delivery in succeeded],
                    [delivery.duration_ms for delivery in succeeded],
                ],
            )
        if endpoint.failing_since is not None:
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None, failure_warning_sent_at=None)
            endpoint.failing_since = endpoint.failure_warning_sent_at = None


def _record_failure(endpoint: Endpoint, delivery: Delivery, attempt: _Attempt, now: dt.datetime) -> None:
    with transaction.atomic():
        if attempt.status == 410:
            delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
            _disable(endpoint, Endpoint.DisabledBy.GONE, now)
        elif delivery.attempts > len(RETRY_SCHEDULE):
            delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
        else:
            delivery.next_attempt_at = now + _backoff(delivery.attempts, attempt.retry_after)
        delivery.save(update_fields=_RESULT_FIELDS)
        if endpoint.status != Endpoint.Status.ENABLED:
            return
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
        failing_for = now - endpoint.failing_since
        if failing_for >= DISABLE_AFTER:
            _disable(endpoint, Endpoint.DisabledBy.FAILING, now)
        elif failing_for >= WARN_AFTER and endpoint.failure_warning_sent_at is None:
            endpoint.failure_warning_sent_at = now
            Endpoint.objects.filter(pk=endpoint.pk).update(failure_warning_sent_at=now)
            job_enqueue("webhooks.tasks.email_owners", endpoint_id=endpoint.pk, about="failing")


def _disable(endpoint: Endpoint, by: str, now: dt.datetime) -> None:
    endpoint.status, endpoint.disabled_by, endpoint.disabled_at = Endpoint.Status.DISABLED, by, now
    Endpoint.objects.filter(pk=endpoint.pk).update(status=endpoint.status, disabled_by=by, disabled_at=now)
    job_enqueue("webhooks.tasks.email_owners", endpoint_id=endpoint.pk, about=f"disabled_{by}")
    logger.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint.pk, "by": by})
