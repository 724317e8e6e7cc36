"""The only place that talks to Stripe.

With STRIPE_SECRET_KEY set, Checkout Sessions are created through the Stripe
SDK (pointed at STRIPE_API_BASE when set, e.g. a Stripe-compatible local
server). Without it, in development only, a local checkout page stands in for
Stripe's hosted page and signs its events with STRIPE_WEBHOOK_SECRET, so the
offline demo runs the same webhook code as production.
"""

from __future__ import annotations

import enum
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models.fields.json import KT
from django.urls import reverse
from django.utils import timezone

from .models import LocalCheckoutSession, StripeEvent


class CheckoutKind(enum.StrEnum):
    """What a Checkout Session pays for: written to its metadata here, read back by the webhook dispatch."""

    CREDITS = "credits"
    LEADS = "leads"


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


# Printed in .env.example and the development default: anyone can sign events with it.
DEVELOPMENT_WEBHOOK_SECRET = "whsec_cursive_local_development"
CURRENCY = "usd"


def uses_local_checkout() -> bool:
    """Never in production: there, anyone holding the link could "pay" and be credited."""
    return not settings.PRODUCTION and not settings.STRIPE_SECRET_KEY


def client() -> stripe.StripeClient:
    options = {"max_network_retries": 2}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **options)


def _absolute(path: str, base_url: str | None) -> str:
    return (base_url or settings.SITE_URL).rstrip("/") + path


def checkout_session_create(
    *,
    kind: CheckoutKind,
    object_id: int,
    workspace_id: int,
    description: str,
    amount_cents: int,
    success_path: str,
    cancel_path: str,
    customer_email: str | None,
    idempotency_key: str,
    base_url: str | None = None,
    customer_id: str | None = None,
) -> CheckoutSession:
    """Open a Checkout Session; return URLs are built on `base_url` (the host the buyer is using) or SITE_URL.
    With `customer_id` the card paid with is saved on that Stripe customer for later off-session payments."""
    metadata = {"kind": kind.value, "workspace_id": str(workspace_id)}
    expires_at = timezone.now() + timedelta(minutes=settings.CHECKOUT_SESSION_MINUTES)
    if uses_local_checkout():
        local = LocalCheckoutSession.objects.create(
            session_id=f"cs_local_{secrets.token_urlsafe(24)}",
            client_reference_id=str(object_id),
            metadata=metadata,
            description=description,
            amount_total=amount_cents,
            success_url=_absolute(success_path, base_url),
            cancel_url=_absolute(cancel_path, base_url),
            expires_at=expires_at,
        )
        return CheckoutSession(
            id=local.session_id, url=_absolute(reverse("payments:local_checkout", args=[local.session_id]), base_url)
        )
    params = {
        "mode": "payment",
        "client_reference_id": str(object_id),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {"currency": CURRENCY, "unit_amount": amount_cents, "product_data": {"name": description}},
            }
        ],
        "success_url": _absolute(success_path, base_url),
        "cancel_url": _absolute(cancel_path, base_url),
        "expires_at": int(expires_at.timestamp()),
    }
    if customer_id:
        params["customer"] = customer_id  # Stripe refuses customer_email alongside: the customer has one
        params["payment_intent_data"]["setup_future_usage"] = "off_session"
    elif customer_email:
        params["customer_email"] = customer_email
    session = client().v1.checkout.sessions.create(params=params, options={"idempotency_key": idempotency_key})
    return CheckoutSession(id=session.id, url=session.url)


def customer_create(*, workspace_id: int, email: str | None, idempotency_key: str) -> str:
    params = {"metadata": {"workspace_id": str(workspace_id)}}
    if email:
        params["email"] = email
    return client().v1.customers.create(params=params, options={"idempotency_key": idempotency_key}).id


# A PaymentIntent charging a saved card says in its metadata that it is an auto-reload and which purchase it pays.
AUTO_RELOAD_KIND = "credits_auto_reload"


class CardDeclined(Exception):
    """The saved card cannot be charged without its holder: declined, or the bank wants them to authenticate."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def payment_intent_charge_saved_card(
    *, amount_cents: int, customer_id: str, payment_method_id: str, metadata: dict, idempotency_key: str
) -> dict:
    """Charge a saved card now, with nobody at the keyboard. Returns the PaymentIntent; CardDeclined when the card
    is refused. Other errors (network, Stripe down) propagate: a retry with the same key cannot charge twice."""
    params = {
        "amount": amount_cents,
        "currency": CURRENCY,
        "customer": customer_id,
        "payment_method": payment_method_id,
        "confirm": True,
        "off_session": True,
        "metadata": metadata,
    }
    try:
        intent = client().v1.payment_intents.create(params=params, options={"idempotency_key": idempotency_key}).to_dict()
    except stripe.CardError as exc:
        raise CardDeclined(exc.code or "card_declined", exc.user_message or str(exc)) from exc
    except stripe.InvalidRequestError as exc:
        # The customer or the card was deleted in Stripe meanwhile: no retry will bring it back.
        if exc.http_status == 404 or exc.code == "resource_missing":
            raise CardDeclined("card_missing", str(exc)) from exc
        raise
    if intent.get("status") == "requires_action":  # Stripe answers authentication_required; some servers only ask
        raise CardDeclined("authentication_required", "The bank asked the cardholder to authenticate this payment.")
    return intent


def payment_intent_retrieve(payment_intent_id: str) -> dict:
    return client().v1.payment_intents.retrieve(payment_intent_id).to_dict()


def payment_method_retrieve(payment_method_id: str) -> dict:
    return client().v1.payment_methods.retrieve(payment_method_id).to_dict()


class SessionNotOpen(Exception):
    """The Checkout Session can no longer be expired: it was paid (or already closed)."""


def checkout_session_expire(session_id: str) -> None:
    """Close an open Checkout Session so it can no longer be paid; SessionNotOpen when it is past that."""
    if uses_local_checkout():
        closed = LocalCheckoutSession.objects.filter(session_id=session_id, expires_at__gt=timezone.now()).update(
            expires_at=timezone.now()
        )
        if not closed:
            raise SessionNotOpen(session_id)
        return
    try:
        client().v1.checkout.sessions.expire(session_id)
    except stripe.InvalidRequestError as exc:  # Stripe: "Only Checkout Sessions with a status of open can be expired"
        raise SessionNotOpen(session_id) from exc


def sign_payload(payload: str) -> str:
    """A Stripe-Signature header for a payload, as Stripe computes it (for the local checkout)."""
    return stripe.WebhookSignature.generate_signature_header(payload, settings.STRIPE_WEBHOOK_SECRET)


def verify_signature(payload: bytes, header: str | None) -> None:
    """Raise stripe.SignatureVerificationError unless the header signs this payload within the tolerance of
    now, either way: the SDK refuses old timestamps only, and one dated ahead would stay replayable longer."""
    secret, tolerance = settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    if settings.PRODUCTION and secret == DEVELOPMENT_WEBHOOK_SECRET:  # also stopped by `check --deploy`
        raise stripe.SignatureVerificationError("The webhook secret is the public development value", header, payload)
    stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=tolerance)
    signed_at = next(int(value) for key, _, value in (item.partition("=") for item in header.split(",")) if key == "t")
    if signed_at > time.time() + tolerance:
        raise stripe.SignatureVerificationError("Timestamp is in the future, beyond the tolerance", header, payload)


def session_reference(session: dict) -> int | None:
    """The id of the Cursive object a Checkout Session was opened for (its client_reference_id)."""
    reference = session.get("client_reference_id")
    return int(reference) if reference and str(reference).isdigit() else None


def session_mismatch(session: dict, *, session_id: str | None, amount_cents: int, workspace_id: int) -> str:
    """Why a signed Checkout Session is not the payment of the purchase it names ("" when it is). The
    client_reference_id alone proves nothing: another session (a payment link, another environment on the
    same Stripe account) can carry it, for another amount, currency or workspace."""
    problems = []
    if not session_id or session.get("id") != session_id:
        problems.append(f"session {session.get('id')!r} is not the one opened for it ({session_id!r})")
    amount = session.get("amount_total")
    if type(amount) is not int or amount != amount_cents:
        problems.append(f"amount_total {amount!r} instead of {amount_cents}")
    if session.get("currency") != CURRENCY:
        problems.append(f"currency {session.get('currency')!r} instead of {CURRENCY!r}")
    named = (session.get("metadata") or {}).get("workspace_id")
    if named != str(workspace_id):
        problems.append(f"metadata names workspace {named!r} instead of {str(workspace_id)!r}")
    return "; ".join(problems)


def sessions_paid_not_yet_processed():
    """Ids of Checkout Sessions a recorded event says were paid, whose processing has not succeeded yet (it
    failed and Stripe will retry, or it is running): their purchases are paid, whatever their status says."""
    return (
        StripeEvent.objects.filter(
            status__in=[StripeEvent.Status.RECEIVED, StripeEvent.Status.FAILED],
            type__in=["checkout.session.completed", "checkout.session.async_payment_succeeded"],
        )
        .annotate(session_id=KT("payload__data__object__id"), payment_status=KT("payload__data__object__payment_status"))
        .filter(session_id__isnull=False, payment_status__in=["paid", "no_payment_required"])
        .values("session_id")
    )


def session_object_for_update(session: dict, queryset):
    """That object, locked for the rest of the caller's transaction; None when it is not ours. Only its own
    row is locked, whatever the queryset joins, and FOR NO KEY UPDATE: rows that refer to it (or to the
    buyer's workspace) can still be inserted meanwhile."""
    reference = session_reference(session)
    if reference is None:
        return None
    return queryset.select_for_update(of=("self",), no_key=True).filter(pk=reference).first()


def session_record(queryset, *, pk: int, session: CheckoutSession):
    """Remember the Checkout Session on the object it was opened for (after the call, under a fresh lock)."""
    with transaction.atomic():
        obj = queryset.select_for_update(of=("self",), no_key=True).get(pk=pk)
        obj.checkout_session_id = session.id
        obj.checkout_url = session.url
        obj.save(update_fields=["checkout_session_id", "checkout_url"])
    return obj
