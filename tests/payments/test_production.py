"""Production never runs on the offline stand-ins for Stripe (issue 10, hole 3)."""

import os
import re
import subprocess
import sys

import pytest
from django.test import Client

from credits.errors import PaymentProviderUnavailable
from credits.models import CreditPackage, CreditPurchase, LocalCheckoutSession
from credits.services import credit_checkout_create
from tests.credits.conftest import deliver, session_event
from tests.servers import REPO


def check_deploy(**stripe_env) -> subprocess.CompletedProcess:
    env = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 20 + "production-grade-secret-key-for-the-check-0123456789",
        "ALLOWED_HOSTS": "cursive.example.com",
        "SITE_URL": "https://cursive.example.com",
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or "postgres://nobody@127.0.0.1:1/none",
        **stripe_env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def env_example_webhook_secret() -> str:
    return re.search(r"^STRIPE_WEBHOOK_SECRET=(.*)$", (REPO / ".env.example").read_text(), re.M).group(1).strip()


def test_check_deploy_fails_without_stripe_keys():
    result = check_deploy()
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "payments.E001" in output and "STRIPE_SECRET_KEY is not set" in output
    assert "payments.E002" in output and "STRIPE_WEBHOOK_SECRET is not set" in output


def test_check_deploy_fails_with_the_public_development_webhook_secret():
    result = check_deploy(STRIPE_SECRET_KEY="sk_live_cursive", STRIPE_WEBHOOK_SECRET=env_example_webhook_secret())
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "payments.E003" in output and "STRIPE_WEBHOOK_SECRET is the public development value" in output
    assert "payments.E001" not in output


@pytest.mark.django_db
def test_production_has_no_local_checkout(tenant, settings):
    settings.STRIPE_SECRET_KEY = ""
    growth = CreditPackage.objects.get(label="Growth")
    made_in_development = credit_checkout_create(workspace=tenant.workspace, package_id=growth.pk, created_by=tenant.user)
    path = f"/checkout/local/{made_in_development.checkout_session_id}/"
    client = tenant.browser_client(Client())
    assert client.get(path).status_code == 200
    settings.PRODUCTION = True
    assert client.get(path).status_code == 404
    assert client.post(path, {"action": "pay"}).status_code == 404
    made_in_development.refresh_from_db()
    assert made_in_development.status == CreditPurchase.Status.PENDING
    # Without keys a checkout cannot be made at all, rather than through the stand-in.
    with pytest.raises(PaymentProviderUnavailable):
        credit_checkout_create(workspace=tenant.workspace, package_id=growth.pk, created_by=tenant.user)
    assert LocalCheckoutSession.objects.count() == 1
    assert CreditPurchase.objects.exclude(pk=made_in_development.pk).get().status == CreditPurchase.Status.FAILED


@pytest.mark.django_db
def test_production_refuses_events_signed_with_the_development_secret(client, pending_purchase, settings):
    settings.PRODUCTION = True
    settings.STRIPE_WEBHOOK_SECRET = env_example_webhook_secret()
    response = deliver(client, session_event(pending_purchase))
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_signature"
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.PENDING
