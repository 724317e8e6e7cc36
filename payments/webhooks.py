"""Stripe webhooks: verify, record by event id, dispatch to the service that owns what was paid, exactly once.

This app sits above credits and marketplace and calls their services by name: a Checkout Session says
what it paid for in `metadata.kind` (stripe_gateway.CheckoutKind), a refund is matched by its payment.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from credits import services as credit_services
from credits import stripe_gateway
from credits.models import CreditPurchase, StripeEvent
from credits.stripe_gateway import CheckoutKind
from cursive.errors import ApplicationError
from cursive.locks import lock_for_transaction
from cursive.text import json_problem
from marketplace import services as marketplace_services
from marketplace.models import LeadPurchase

logger = logging.getLogger("cursive.stripe")


class BadSignature(ApplicationError):
    status_code = 400
    code = "bad_signature"
    default_message = "The Stripe-Signature header does not match this payload or is too old."


class InvalidEvent(ApplicationError):
    """Correctly signed, yet not an event this code can record: the sender's bug, not a forged request."""

    status_code = 400
    code = "invalid_event"

    def __init__(self, problem: str):
        super().__init__(f"The event is not a Stripe event Cursive can read: {problem}")


class CheckoutEnd(enum.Enum):
    """How a Checkout Session ended unpaid, in Stripe's terms; each product closes its purchase its own way."""

    EXPIRED = "expired"
    PAYMENT_FAILED = "payment_failed"


_CREDIT_PURCHASE_STATUS = {
    CheckoutEnd.EXPIRED: CreditPurchase.Status.EXPIRED,
    CheckoutEnd.PAYMENT_FAILED: CreditPurchase.Status.FAILED,
}
_LEAD_PURCHASE_STATUS = {CheckoutEnd.EXPIRED: LeadPurchase.Status.EXPIRED, CheckoutEnd.PAYMENT_FAILED: LeadPurchase.Status.FAILED}


def _checkout_kind(session: dict) -> CheckoutKind | None:
    kind = (session.get("metadata") or {}).get("kind")
    try:
        return CheckoutKind(kind)
    except ValueError:
        logger.warning("checkout session of unknown kind", extra={"kind": kind, "session": session.get("id")})
        return None


@dataclass(frozen=True)
class WaitFor:
    """A handler's answer when its event cannot act yet: it waits for this payment's own event."""

    payment_intent_id: str


def _lock_payment(payment_intent_id: str) -> None:
    """Serialise a payment's completion and its refunds until the transaction ends. Without it, a refund
    processed while the payment's completion is not committed yet would find no purchase and wait, while the
    completion, not seeing that refund, delivered."""
    lock_for_transaction(f"stripe-payment:{payment_intent_id}")


def _refunds_waiting_for(payment_intent_id: str) -> tuple[int, list[int]]:
    """How much of this payment Stripe said it refunded before the payment arrived, and the refund events that
    said so and are free to close now (one being redelivered right now closes itself once this commits)."""
    waiting = list(
        StripeEvent.objects.filter(
            status=StripeEvent.Status.WAITING, type="charge.refunded", waiting_for=payment_intent_id
        ).values_list("pk", "payload")
    )
    # Each refund event of a charge carries the running total refunded, so the largest is the latest.
    refunded = max((int(payload["data"]["object"].get("amount_refunded") or 0) for _, payload in waiting), default=0)
    free = list(
        StripeEvent.objects.filter(pk__in=[pk for pk, _ in waiting])
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    return refunded, free


def _payment_intent(obj: dict) -> str:
    """The payment intent an event's object names, or "" when it names none a purchase could have recorded."""
    value = obj.get("payment_intent")
    max_length = StripeEvent._meta.get_field("waiting_for").max_length
    return value if isinstance(value, str) and len(value) <= max_length else ""


def _on_session_completed(session: dict) -> None:
    payment_intent_id = _payment_intent(session)
    refunded_cents, waiting = 0, []
    if payment_intent_id:
        _lock_payment(payment_intent_id)
        refunded_cents, waiting = _refunds_waiting_for(payment_intent_id)
    match _checkout_kind(session):
        case CheckoutKind.CREDITS:
            credit_services.credit_purchase_complete(session=session, refunded_cents=refunded_cents)
        case CheckoutKind.LEADS:
            marketplace_services.purchase_complete_paid(session=session, refunded_cents=refunded_cents)
    if waiting and _paid_for(payment_intent_id) is not None:  # the purchase took this payment and its refunds
        StripeEvent.objects.filter(pk__in=waiting).update(
            status=StripeEvent.Status.PROCESSED, waiting_for="", processed_at=timezone.now()
        )


def _on_payment_intent_succeeded(intent: dict) -> None:
    """An auto-reload paid with the saved card. A Checkout's own payment also sends this event: its
    checkout.session event completes that purchase, so it is left alone here."""
    if (intent.get("metadata") or {}).get("kind") != stripe_gateway.AUTO_RELOAD_KIND:
        return
    payment_intent_id = _payment_intent({"payment_intent": intent.get("id")})  # its own id, checked as refunds' are
    refunded_cents, waiting = 0, []
    if payment_intent_id:
        _lock_payment(payment_intent_id)
        refunded_cents, waiting = _refunds_waiting_for(payment_intent_id)
    credit_services.credit_purchase_complete_intent(intent=intent, refunded_cents=refunded_cents)
    if waiting and _paid_for(payment_intent_id) is not None:
        StripeEvent.objects.filter(pk__in=waiting).update(
            status=StripeEvent.Status.PROCESSED, waiting_for="", processed_at=timezone.now()
        )


def _on_payment_intent_failed(intent: dict) -> None:
    credit_services.credit_auto_reload_intent_failed(intent=intent)


def _on_session_ended(session: dict, end: CheckoutEnd) -> None:
    match _checkout_kind(session):
        case CheckoutKind.CREDITS:
            credit_services.credit_purchase_close(session=session, status=_CREDIT_PURCHASE_STATUS[end])
        case CheckoutKind.LEADS:
            marketplace_services.purchase_close_session(session=session, status=_LEAD_PURCHASE_STATUS[end])


def _paid_for(payment_intent_id: str) -> CheckoutKind | None:
    """Which product a Stripe payment bought: payments are recorded on their purchase when it completes."""
    if CreditPurchase.objects.filter(payment_intent_id=payment_intent_id).exists():
        return CheckoutKind.CREDITS
    if LeadPurchase.objects.filter(payment_intent_id=payment_intent_id).exists():
        return CheckoutKind.LEADS
    return None


def _on_charge_refunded(charge: dict) -> WaitFor | None:
    payment_intent_id = _payment_intent(charge)
    if not payment_intent_id:
        return None
    amount_refunded_cents = int(charge.get("amount_refunded") or 0)
    _lock_payment(payment_intent_id)
    match _paid_for(payment_intent_id):
        case CheckoutKind.CREDITS:
            credit_services.credit_purchase_refund(
                payment_intent_id=payment_intent_id, amount_refunded_cents=amount_refunded_cents
            )
        case CheckoutKind.LEADS:
            marketplace_services.purchase_card_refunded(
                payment_intent_id=payment_intent_id, amount_refunded_cents=amount_refunded_cents
            )
        case None:
            # Its payment's event may still be on its way (Stripe retries for days, in no set order): the
            # refund waits for it, and staff see a refund that waits too long.
            logger.warning(
                "refund of a payment Cursive has not seen: waiting for it", extra={"payment_intent": payment_intent_id}
            )
            return WaitFor(payment_intent_id)
    return None


HANDLERS: dict[str, Callable[[dict], WaitFor | None]] = {
    "checkout.session.completed": _on_session_completed,
    "checkout.session.async_payment_succeeded": _on_session_completed,
    "checkout.session.expired": lambda session: _on_session_ended(session, CheckoutEnd.EXPIRED),
    "checkout.session.async_payment_failed": lambda session: _on_session_ended(session, CheckoutEnd.PAYMENT_FAILED),
    "charge.refunded": _on_charge_refunded,
    "payment_intent.succeeded": _on_payment_intent_succeeded,
    "payment_intent.payment_failed": _on_payment_intent_failed,
}


def _read_event(payload: bytes) -> dict:
    """A signed payload as an event that fits its row: a JSON object with a string id and type of the column's
    length, and no NUL (PostgreSQL refuses it in text and JSONB)."""
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise InvalidEvent("the body is not JSON.") from exc
    if not isinstance(event, dict):
        raise InvalidEvent("the body is not a JSON object.")
    for key, field in (("id", "event_id"), ("type", "type")):
        value = event.get(key)
        limit = StripeEvent._meta.get_field(field).max_length
        if not isinstance(value, str) or not 0 < len(value) <= limit:
            raise InvalidEvent(f"its {key} is not a string of 1 to {limit} characters.")
    if problem := json_problem(event, max_depth=64):
        raise InvalidEvent(problem)
    return event


def stripe_webhook_receive(*, payload: bytes, signature: str | None) -> StripeEvent:
    """Verify and record an event, then process it. Returns the event with its final status. Nothing is
    recorded for a bad signature (BadSignature) nor for a signed payload that is no event (InvalidEvent)."""
    try:
        stripe_gateway.verify_signature(payload, signature)
    except Exception as exc:
        raise BadSignature() from exc
    event = _read_event(payload)
    event_id, event_type = event["id"], event["type"]
    try:
        with transaction.atomic():
            StripeEvent.objects.create(event_id=event_id, type=event_type, payload=event)
    except IntegrityError:
        pass  # seen before: processing below is a no-op unless it failed last time
    return stripe_event_process(event_id=event_id)


def stripe_event_process(*, event_id: str, force: bool = False) -> StripeEvent:
    """Run an event's handler once. `force` (staff's Reprocess) runs a processed event's handler again,
    which is safe because every handler checks the state of what it touches before acting."""
    with transaction.atomic():
        # Stripe gives up on a webhook after seconds; fail fast (500, retried later) rather than hang on a lock.
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{settings.STRIPE_WEBHOOK_LOCK_TIMEOUT_MS}ms"])
        event = StripeEvent.objects.select_for_update().get(event_id=event_id)
        if event.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED) and not force:
            return event
        handler = HANDLERS.get(event.type)
        event.attempts += 1
        if handler is None:
            logger.info("stripe event type not handled", extra={"event_id": event_id, "type": event.type})
            event.status = StripeEvent.Status.IGNORED
        else:
            try:
                with transaction.atomic():
                    outcome = handler(event.payload["data"]["object"])
            except Exception as exc:  # recorded for staff and answered 500 so Stripe retries
                logger.exception("stripe event handler failed", extra={"event_id": event_id, "type": event.type})
                event.status = StripeEvent.Status.FAILED
                event.last_error = f"{exc.__class__.__name__}: {exc}"
            else:
                waiting = isinstance(outcome, WaitFor)
                event.status = StripeEvent.Status.WAITING if waiting else StripeEvent.Status.PROCESSED
                event.waiting_for = outcome.payment_intent_id if waiting else ""
                event.last_error = ""
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "waiting_for", "attempts", "last_error", "processed_at"])
        return event
