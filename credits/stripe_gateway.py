"""The only place that talks to Stripe.

With STRIPE_SECRET_KEY set, Checkout Sessions are created through the Stripe
SDK (pointed at STRIPE_API_BASE when set, e.g. a Stripe-compatible local
server). Without it, a local checkout page stands in for Stripe's hosted page
and signs its events with STRIPE_WEBHOOK_SECRET, so the offline demo runs the
same webhook code as production.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import stripe
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .models import LocalCheckoutSession


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def uses_local_checkout() -> bool:
    return not settings.STRIPE_SECRET_KEY


def client() -> stripe.StripeClient:
    options = {"max_network_retries": 2}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **options)


def _absolute(path: str, base_url: str | None) -> str:
    return (base_url or settings.SITE_URL).rstrip("/") + path


def checkout_session_create(*, kind: str, object_id: int, workspace_id: int, description: str, amount_cents: int,
                            success_path: str, cancel_path: str, customer_email: str | None,
                            idempotency_key: str, base_url: str | None = None) -> CheckoutSession:
    """Open a Checkout Session; return URLs are built on `base_url` (the host the buyer is using) or SITE_URL."""
    metadata = {"kind": kind, "workspace_id": str(workspace_id)}
    expires_at = timezone.now() + timedelta(minutes=settings.CHECKOUT_SESSION_MINUTES)
    if uses_local_checkout():
        local = LocalCheckoutSession.objects.create(
            session_id=f"cs_local_{secrets.token_urlsafe(24)}", client_reference_id=str(object_id), metadata=metadata,
            description=description, amount_total=amount_cents, success_url=_absolute(success_path, base_url),
            cancel_url=_absolute(cancel_path, base_url), expires_at=expires_at,
        )
        return CheckoutSession(id=local.session_id,
                               url=_absolute(reverse("credits:local_checkout", args=[local.session_id]), base_url))
    params = {
        "mode": "payment",
        "client_reference_id": str(object_id),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "line_items": [{
            "quantity": 1,
            "price_data": {"currency": "usd", "unit_amount": amount_cents, "product_data": {"name": description}},
        }],
        "success_url": _absolute(success_path, base_url),
        "cancel_url": _absolute(cancel_path, base_url),
        "expires_at": int(expires_at.timestamp()),
    }
    if customer_email:
        params["customer_email"] = customer_email
    session = client().v1.checkout.sessions.create(params=params, options={"idempotency_key": idempotency_key})
    return CheckoutSession(id=session.id, url=session.url)


class SessionNotOpen(Exception):
    """The Checkout Session can no longer be expired: it was paid (or already closed)."""


def checkout_session_expire(session_id: str) -> None:
    """Close an open Checkout Session so it can no longer be paid; SessionNotOpen when it is past that."""
    if uses_local_checkout():
        closed = LocalCheckoutSession.objects.filter(session_id=session_id, expires_at__gt=timezone.now()).update(
            expires_at=timezone.now())
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
    """Raise stripe.SignatureVerificationError unless the header signs this payload recently enough."""
    stripe.WebhookSignature.verify_header(payload, header, settings.STRIPE_WEBHOOK_SECRET,
                                          tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS)


def session_reference(session: dict) -> int | None:
    """The id of the Cursive object a Checkout Session was opened for (its client_reference_id)."""
    reference = session.get("client_reference_id")
    return int(reference) if reference and str(reference).isdigit() else None


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
