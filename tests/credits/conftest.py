import copy
import json
import re
import time
from pathlib import Path

import pytest
import stripe
from django.conf import settings

from credits.models import CreditPackage, CreditPurchase
from credits.services import credit_checkout_create

PAYLOADS = Path(__file__).parent / "payloads"


def load_event(name: str) -> dict:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def session_event(
    purchase: CreditPurchase, event_type: str = "checkout.session.completed", *, event_id: str | None = None, **session_fields
) -> dict:
    event = copy.deepcopy(load_event("checkout.session.completed"))
    event["type"] = event_type
    event["id"] = event_id or f"evt_{event_type.replace('.', '_')}_{purchase.pk}"
    session = event["data"]["object"]
    session.update(
        {
            "id": purchase.checkout_session_id or f"cs_test_{purchase.pk}",
            "client_reference_id": str(purchase.pk),
            "amount_total": purchase.price_cents,
            "metadata": {"kind": "credits", "workspace_id": str(purchase.workspace_id)},
            "payment_intent": f"pi_test_{purchase.pk}",
        }
    )
    session.update(session_fields)
    return event


def sign(payload: str, *, timestamp: int | None = None, secret: str | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(
        payload, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp=timestamp or int(time.time())
    )


def deliver(client, event: dict, **sign_kwargs):
    payload = json.dumps(event)
    return client.post(
        "/webhooks/stripe", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload, **sign_kwargs)
    )


@pytest.fixture
def pending_purchase(tenant, settings):
    settings.STRIPE_SECRET_KEY = ""  # the local checkout: no network
    package = CreditPackage.objects.get(label="Growth")
    return credit_checkout_create(workspace=tenant.workspace, package_id=package.pk, created_by=tenant.user)


@pytest.fixture(scope="session")
def _localstripe_process():
    from tests.credits.localstripe import start_localstripe

    process, base = start_localstripe()
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def localstripe(_localstripe_process, httpserver, settings):
    """Stripe for this test: localstripe, with Checkout Sessions answered in front of it (see localstripe.py)."""
    from tests.credits.localstripe import SECRET_KEY, LocalStripe

    stripe_ = LocalStripe(api_base=_localstripe_process, front=httpserver, webhook_secret=settings.STRIPE_WEBHOOK_SECRET)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(stripe_.handle)
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = httpserver.url_for("").rstrip("/")
    return stripe_
