"""Hole 10 on credits: amounts past what a balance holds, malformed Stripe event ids and bad CLI credits are
refused cleanly, never a 500 or a traceback."""

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Workspace
from credits.models import CreditAccount, CreditTransaction, StripeEvent
from credits.services import MAX_CREDITS, credits_adjust, credits_grant
from cursive.errors import ValidationFailed

from .conftest import session_event, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(client, tenant):
    tenant.user.is_staff = tenant.user.is_superuser = True
    tenant.user.save(update_fields=["is_staff", "is_superuser"])
    return tenant.browser_client(client)


def test_an_admin_adjustment_past_the_balance_range_is_a_form_error(staff_browser, tenant):
    credits_adjust(workspace=tenant.workspace, amount=500, actor=None, reason="opening")
    account = CreditAccount.objects.get(workspace=tenant.workspace)
    response = staff_browser.post(
        f"/admin/credits/creditaccount/{account.pk}/adjust/", {"amount": "999999999999.99", "reason": "typo"}
    )
    assert response.status_code == 200
    assert "most a balance can hold" in response.content.decode()
    account.refresh_from_db()
    assert account.balance == Decimal("500.00") and CreditTransaction.objects.filter(account=account).count() == 1


def test_a_grant_past_the_balance_range_is_refused_and_changes_nothing(tenant):
    credits_grant(workspace=tenant.workspace, amount=MAX_CREDITS, reference="test:1")
    with pytest.raises(ValidationFailed):
        credits_grant(workspace=tenant.workspace, amount="0.01", reference="test:2")
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == MAX_CREDITS


def _deliver_raw(client, event: dict):
    payload = json.dumps(event)
    return client.post("/webhooks/stripe", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload))


@pytest.mark.parametrize("event_id", [None, "x" * 5000, "evt_\x00", 42, ["evt_1"], ""])
def test_a_signed_event_with_an_unusable_id_is_400_and_nothing_is_recorded(client, pending_purchase, event_id):
    event = session_event(pending_purchase)
    event["id"] = event_id
    assert_invalid_event(_deliver_raw(client, event))
    assert not StripeEvent.objects.exists()


def assert_invalid_event(response):
    """A correctly signed payload that is no readable event is not a signature problem, and says so."""
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "invalid_event"
    assert error["message"].startswith("The event is not a Stripe event Cursive can read: ")
    assert "signature" not in error["message"].lower()


@pytest.mark.parametrize("event_type", [None, "t" * 500, "checkout.\x00"])
def test_a_signed_event_with_an_unusable_type_is_400_and_nothing_is_recorded(client, pending_purchase, event_type):
    event = session_event(pending_purchase)
    event["type"] = event_type
    assert_invalid_event(_deliver_raw(client, event))
    assert not StripeEvent.objects.exists()


def test_a_signed_event_with_a_nul_in_its_body_is_400_and_nothing_is_recorded(client, pending_purchase):
    event = session_event(pending_purchase)
    event["data"]["object"]["metadata"]["note"] = "a\x00b"
    assert_invalid_event(_deliver_raw(client, event))
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", '{"id": "evt_1"}', '"evt_1"'])
def test_a_signed_payload_that_is_no_event_is_400_and_nothing_is_recorded(client, payload):
    response = client.post("/webhooks/stripe", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload))
    assert_invalid_event(response)
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize("credits", ["abc", "1e20", "NaN", "Infinity", "1e400", "--5"])
def test_create_workspace_with_credits_that_are_no_amount_is_a_command_error(tenant_factory, credits):
    with pytest.raises(CommandError, match="redit"):
        call_command("create_workspace", "Initech", "--owner-email", "bill@initech.test", "--credits", credits)
    assert not Workspace.objects.filter(name="Initech").exists()


def test_create_workspace_grants_well_formed_credits(tenant_factory, capsys):
    call_command("create_workspace", "Initech", "--owner-email", "bill@initech.test", "--credits", "12.5")
    workspace = Workspace.objects.get(name="Initech")
    assert CreditAccount.objects.get(workspace=workspace).balance == Decimal("12.50")
