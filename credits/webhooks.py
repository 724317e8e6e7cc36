"""Stripe webhooks: verify, record by event id, dispatch from a table of handlers, exactly once.

Checkout Sessions belong to different products (credit packages here, lead
purchases in the marketplace), told apart by `metadata.kind`. Apps above
credits register their handlers with `register_checkout_kind()` so this module
never imports them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cursive.errors import ApplicationError
from cursive.text import json_problem

from . import services, stripe_gateway
from .models import CreditPurchase, StripeEvent

logger = logging.getLogger("cursive.stripe")


class BadSignature(ApplicationError):
    status_code = 400
    code = "bad_signature"
    default_message = "The Stripe-Signature header does not match this payload or is too old."


@dataclass(frozen=True)
class CheckoutKind:
    complete: Callable[[dict], object]
    close: Callable[[dict, str], object]


_CHECKOUT_KINDS: dict[str, CheckoutKind] = {
    "credits": CheckoutKind(
        complete=lambda session: services.credit_purchase_complete(session=session),
        close=lambda session, status: services.credit_purchase_close(session=session, status=status),
    ),
}


def register_checkout_kind(kind: str, *, complete, close) -> None:
    _CHECKOUT_KINDS[kind] = CheckoutKind(complete=complete, close=close)


def _checkout_kind(session: dict) -> CheckoutKind | None:
    kind = (session.get("metadata") or {}).get("kind")
    handler = _CHECKOUT_KINDS.get(kind)
    if handler is None:
        logger.warning("checkout session of unknown kind", extra={"kind": kind, "session": session.get("id")})
    return handler


def _on_session_completed(session: dict) -> None:
    if (handler := _checkout_kind(session)) is not None:
        handler.complete(session)


def _on_session_expired(session: dict) -> None:
    if (handler := _checkout_kind(session)) is not None:
        handler.close(session, CreditPurchase.Status.EXPIRED)


def _on_async_payment_failed(session: dict) -> None:
    if (handler := _checkout_kind(session)) is not None:
        handler.close(session, CreditPurchase.Status.FAILED)


# Each takes (payment_intent_id=, amount_refunded_cents=) and returns the object it refunded, or None
# when the payment is not one of its own; the marketplace adds its card purchases in ready().
_REFUND_HANDLERS: list[Callable[..., object | None]] = [services.credit_purchase_refund]


def register_refund_handler(handler: Callable[..., object | None]) -> None:
    _REFUND_HANDLERS.append(handler)


def _on_charge_refunded(charge: dict) -> None:
    if not charge.get("payment_intent"):
        return
    for handler in _REFUND_HANDLERS:
        if handler(payment_intent_id=charge["payment_intent"],
                   amount_refunded_cents=int(charge.get("amount_refunded") or 0)) is not None:
            return
    logger.warning("refund of a payment Cursive does not know", extra={"payment_intent": charge["payment_intent"]})


HANDLERS: dict[str, Callable[[dict], None]] = {
    "checkout.session.completed": _on_session_completed,
    "checkout.session.async_payment_succeeded": _on_session_completed,
    "checkout.session.expired": _on_session_expired,
    "checkout.session.async_payment_failed": _on_async_payment_failed,
    "charge.refunded": _on_charge_refunded,
}


def _check_storable(event: dict) -> None:
    """Even a signed event is recorded only when it fits its row: a string id and type of the column's length,
    and no NUL (PostgreSQL refuses it in text and JSONB)."""
    for key, field in (("id", "event_id"), ("type", "type")):
        value = event[key]
        if not isinstance(value, str) or not 0 < len(value) <= StripeEvent._meta.get_field(field).max_length:
            raise ValueError(f"the event's {key} is not a string its column can store")
    if problem := json_problem(event, max_depth=64):
        raise ValueError(problem)


def stripe_webhook_receive(*, payload: bytes, signature: str | None) -> StripeEvent:
    """Verify and record an event, then process it. Returns the event with its final status."""
    try:
        stripe_gateway.verify_signature(payload, signature)
        event = json.loads(payload)
        event_id, event_type = event["id"], event["type"]
        _check_storable(event)
    except Exception as exc:  # a bad signature, bad JSON or a payload that is no event: nothing is recorded
        raise BadSignature() from exc
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
            cursor.execute("SELECT set_config('lock_timeout', %s, true)",
                           [f"{settings.STRIPE_WEBHOOK_LOCK_TIMEOUT_MS}ms"])
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
                    handler(event.payload["data"]["object"])
            except Exception as exc:  # recorded for staff and answered 500 so Stripe retries
                logger.exception("stripe event handler failed", extra={"event_id": event_id, "type": event.type})
                event.status = StripeEvent.Status.FAILED
                event.last_error = f"{exc.__class__.__name__}: {exc}"
            else:
                event.status = StripeEvent.Status.PROCESSED
                event.last_error = ""
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "attempts", "last_error", "processed_at"])
        return event
