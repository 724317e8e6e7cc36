"""Signing secrets are stored encrypted (cursive.crypto), as mailbox passwords are: a copy of the database or a
backup alone cannot sign as Cursive."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from cursive import outbound
from webhooks import services
from webhooks.models import Delivery, Endpoint

from .test_delivery import deliver_all, make_endpoint

pytestmark = pytest.mark.django_db


def _stored(endpoint: Endpoint) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM webhooks_endpoint WHERE id = %s", [endpoint.pk])
        return repr(cursor.fetchone())


def test_no_secret_is_stored_in_clear_and_rotation_keeps_both_sealed(tenant, receiver):
    endpoint, secret = make_endpoint(tenant, receiver)
    assert secret.startswith("whsec_") and secret not in _stored(endpoint) and "whsec_" not in _stored(endpoint)
    new = tenant.api().post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret").json()["secret"]
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (new, secret)
    assert "whsec_" not in _stored(endpoint)
    tenant.api().post(f"/api/v1/webhooks/{endpoint.pk}/test")
    deliver_all()
    (received,) = receiver.got
    assert received.verified_by(new)["type"] == received.verified_by(secret)["type"] == "webhook.test"


def test_secrets_still_open_after_the_keys_rotate(tenant, receiver, settings):
    from cryptography.fernet import Fernet

    first = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [first]
    endpoint, secret = make_endpoint(tenant, receiver)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), first]
    assert Endpoint.objects.get(pk=endpoint.pk).secret == secret


def test_a_secret_no_key_opens_fails_the_delivery_and_says_why(tenant, receiver, settings):
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    endpoint, _ = make_endpoint(tenant, receiver)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key is gone
    tenant.api().post(f"/api/v1/webhooks/{endpoint.pk}/test")
    assert deliver_all() == 0 and receiver.got == []
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == Delivery.Status.PENDING and delivery.attempts == 1
    assert "signing secret" in delivery.error and "Rotate" in delivery.error
    # Rotating gives the endpoint a secret the current key opens, and the retry goes through.
    tenant.api().post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret")
    client = outbound.OutboundClient()
    try:
        services.endpoint_deliver(endpoint_id=endpoint.pk, client=client, now=timezone.now() + dt.timedelta(hours=2))
    finally:
        client.close()
    assert receiver.types() == ["webhook.test"]
