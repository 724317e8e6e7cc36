"""Auto-reload against a Stripe that keeps state (localstripe): the card saved at Checkout is charged
off-session when the balance falls below the threshold, at most hourly, credited exactly once."""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from credits import selectors, stripe_gateway
from credits.models import BillingProfile, CreditAccount, CreditPackage, CreditPurchase, CreditTransaction
from credits.services import (
    billing_card_record,
    credit_account_settings_update,
    credit_auto_reload_update,
    credit_checkout_create,
    credits_spend,
)
from cursive.errors import ValidationFailed
from cursive.jobs import job_run
from cursive.models import Job, OutboxEvent
from tests.credits.conftest import deliver, sign
from tests.credits.localstripe import CARD_DECLINED_WHEN_CHARGED, CARD_OK

pytestmark = pytest.mark.django_db

# Stripe's test card that asks its holder to authenticate every payment (3-D Secure), even off-session.
CARD_ALWAYS_AUTHENTICATES = "4000002760003184"


def package(label):
    return CreditPackage.objects.get(label=label)


def run_jobs(func: str) -> int:
    jobs = list(Job.objects.filter(func=func, status=Job.Status.PENDING).order_by("pk"))
    for job in jobs:
        assert job_run(job.pk) == "succeeded", Job.objects.get(pk=job.pk).last_error
    return len(jobs)


def buy_by_card(tenant, localstripe, *, card=CARD_OK, label="Growth", authenticate=False) -> CreditPurchase:
    """A package bought through Checkout, as the owner does it: the card is saved on the workspace's customer."""
    purchase = credit_checkout_create(workspace=tenant.workspace, package_id=package(label).pk, created_by=tenant.user)
    session = localstripe.pay_checkout(localstripe.sessions[-1], card=card, authenticate=authenticate)
    event = {"id": f"evt_checkout_{purchase.pk}", "object": "event", "type": "checkout.session.completed"}
    assert deliver(Client(), {**event, "data": {"object": session}}).status_code == 200
    assert run_jobs("credits.tasks.billing_card_save") == 1
    purchase.refresh_from_db()
    assert purchase.status == CreditPurchase.Status.COMPLETE
    return purchase


def spend(tenant, amount, n=[0]):  # noqa: B006 - a counter for unique references
    n[0] += 1
    return credits_spend(workspace=tenant.workspace, amount=amount, reference=f"purchase:{n[0]}")


def reloads(tenant):
    return CreditPurchase.objects.filter(workspace=tenant.workspace, origin=CreditPurchase.Origin.AUTO_RELOAD).order_by("pk")


def balance(tenant) -> Decimal:
    return CreditAccount.objects.get(workspace=tenant.workspace).balance


def intent_requests(localstripe):
    return [r for r in localstripe.requests if r["method"] == "POST" and r["path"] == "/v1/payment_intents"]


def relay(webhook) -> int:
    """Hand a webhook localstripe sent (body and signature untouched) to Cursive's endpoint."""
    return (
        Client()
        .post(
            "/webhooks/stripe",
            data=webhook["body"],
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=webhook["signature"],
        )
        .status_code
    )


@pytest.fixture
def card_saved(tenant, localstripe):
    """Growth (500 credits) bought with a card that pays; auto-reload on, buying Starter (100 credits, $49)
    below the owner's threshold of 100."""
    buy_by_card(tenant, localstripe)
    credit_account_settings_update(workspace=tenant.workspace, low_balance_threshold="100")
    credit_auto_reload_update(workspace=tenant.workspace, enabled=True, package_id=package("Starter").pk, actor=tenant.user)
    return tenant


def test_checkout_saves_the_card_on_the_workspaces_customer(tenant, localstripe):
    assert selectors.billing_profile(workspace=tenant.workspace) is None
    buy_by_card(tenant, localstripe)
    profile = BillingProfile.objects.get(workspace=tenant.workspace)
    customer = localstripe.client.v1.customers.retrieve(profile.stripe_customer_id)
    assert customer.metadata["workspace_id"] == str(tenant.workspace.pk)
    method = localstripe.client.v1.payment_methods.retrieve(profile.payment_method_id)
    assert method.customer == profile.stripe_customer_id
    assert (profile.card_brand, profile.card_last4) == ("visa", "4242")
    buy_by_card(tenant, localstripe, label="Starter")  # the next checkout reuses the customer
    assert BillingProfile.objects.get(workspace=tenant.workspace).stripe_customer_id == profile.stripe_customer_id
    assert [s["form"]["customer"] for s in localstripe.sessions] == [profile.stripe_customer_id] * 2


def test_falling_below_buys_one_package_off_session_credited_once(card_saved, localstripe):
    tenant = card_saved
    localstripe.listen_for_webhooks()
    spend(tenant, "400.01")  # 500 -> 99.99
    (reload,) = reloads(tenant)
    assert reload.status == CreditPurchase.Status.PENDING and not intent_requests(localstripe)  # bought after commit
    spend(tenant, "10")  # still below, and within the hour: nothing more
    assert reloads(tenant).count() == 1

    assert run_jobs("credits.tasks.auto_reload_charge") == 1
    (request,) = intent_requests(localstripe)
    profile = BillingProfile.objects.get(workspace=tenant.workspace)
    assert {key: values[0] for key, values in request["form"].items()} == {
        "amount": "4900",
        "currency": "usd",
        "customer": profile.stripe_customer_id,
        "payment_method": profile.payment_method_id,
        "confirm": "true",
        "off_session": "true",
        "metadata[kind]": "credits_auto_reload",
        "metadata[workspace_id]": str(tenant.workspace.pk),
        "metadata[credit_purchase_id]": str(reload.pk),
    }
    assert request["headers"]["Idempotency-Key"] == f"credit-purchase-{reload.pk}"
    reload.refresh_from_db()
    assert reload.status == CreditPurchase.Status.COMPLETE and reload.payment_intent_id.startswith("pi_")
    assert balance(tenant) == Decimal("189.99")

    # Stripe's own word on it, twice over, and the same success under another event id: no more credits.
    (webhook,) = localstripe.webhooks_of("payment_intent.succeeded", about=reload.payment_intent_id)
    assert relay(webhook) == relay(webhook) == 200
    again = json.loads(webhook["body"])
    again["id"] = "evt_sent_again"
    assert deliver(Client(), again).status_code == 200
    assert CreditTransaction.objects.filter(reference=reload.reference).count() == 1
    assert balance(tenant) == Decimal("189.99")
    assert run_jobs("credits.tasks.auto_reload_charge") == 0
    # The owners get the receipt of a charge nobody clicked.
    run_jobs("credits.tasks.send_credit_receipt")
    receipts = [email for email in mail.outbox if "receipt" in email.subject]
    assert [email.to for email in receipts] == [[tenant.user.email]] * 2
    assert "Auto-reload bought this package" in receipts[1].body and "Auto-reload" not in receipts[0].body


def test_success_reported_by_the_webhook_first_is_credited_once(card_saved, localstripe):
    tenant = card_saved
    localstripe.listen_for_webhooks()
    spend(tenant, "450")
    (reload,) = reloads(tenant)
    # The job's worker charges the card and dies before it hears the answer: Stripe's webhook completes the
    # purchase, and the job's retry finds it paid and asks Stripe nothing more.
    profile = BillingProfile.objects.get(workspace=tenant.workspace)
    intent = stripe_gateway.payment_intent_charge_saved_card(
        amount_cents=reload.price_cents,
        customer_id=profile.stripe_customer_id,
        payment_method_id=profile.payment_method_id,
        metadata={"kind": "credits_auto_reload", "workspace_id": str(tenant.workspace.pk), "credit_purchase_id": str(reload.pk)},
        idempotency_key=f"credit-purchase-{reload.pk}",
    )
    (webhook,) = localstripe.webhooks_of("payment_intent.succeeded", about=intent["id"])
    assert relay(webhook) == 200
    reload.refresh_from_db()
    assert reload.status == CreditPurchase.Status.COMPLETE and reload.payment_intent_id == intent["id"]
    assert run_jobs("credits.tasks.auto_reload_charge") == 1
    assert len(intent_requests(localstripe)) == 1
    assert CreditTransaction.objects.filter(reference=reload.reference).count() == 1
    assert balance(tenant) == Decimal("150.00")


def test_at_most_one_reload_an_hour(card_saved, localstripe):
    tenant = card_saved
    spend(tenant, "450")  # 50
    run_jobs("credits.tasks.auto_reload_charge")  # +100: 150
    spend(tenant, "100")  # 50 again, 10 minutes later say
    assert reloads(tenant).count() == 1
    CreditAccount.objects.filter(workspace=tenant.workspace).update(
        auto_reload_attempted_at=timezone.now() - timedelta(minutes=61)
    )
    spend(tenant, "1")  # still below, an hour after the last reload: buy again
    assert reloads(tenant).count() == 2
    run_jobs("credits.tasks.auto_reload_charge")
    assert len(intent_requests(localstripe)) == 2 and balance(tenant) == Decimal("149.00")


def test_a_declined_card_turns_auto_reload_off_and_tells_the_owners_once(card_saved, localstripe):
    tenant = card_saved
    localstripe.listen_for_webhooks()
    # The card on file now fails: one that attaches to the customer but whose charges the bank declines.
    customer = BillingProfile.objects.get(workspace=tenant.workspace).stripe_customer_id
    method = localstripe.attach_card(customer, CARD_DECLINED_WHEN_CHARGED)
    billing_card_record(
        workspace=tenant.workspace, payment_method_id=method.id, brand="visa", last4="0341", saved_at=timezone.now()
    )
    spend(tenant, "450")
    (reload,) = reloads(tenant)
    assert run_jobs("credits.tasks.auto_reload_charge") == 1
    reload.refresh_from_db()
    assert reload.status == CreditPurchase.Status.FAILED and balance(tenant) == Decimal("50.00")
    account = CreditAccount.objects.get(workspace=tenant.workspace)
    assert not account.auto_reload_enabled and "declined" in account.auto_reload_failure
    # Stripe's payment_intent.payment_failed says the same: nothing more happens.
    (failed,) = localstripe.webhooks_of("payment_intent.payment_failed", about=None)
    assert json.loads(failed["body"])["data"]["object"]["metadata"]["credit_purchase_id"] == str(reload.pk)
    assert relay(failed) == 200
    assert run_jobs("credits.tasks.send_auto_reload_failed") == 1
    (email,) = [email for email in mail.outbox if "auto-reload" in email.subject.lower()]
    assert email.to == [tenant.user.email] and "declined" in email.body and "Starter" in email.body
    # Off means off: the next debit buys nothing.
    CreditAccount.objects.filter(workspace=tenant.workspace).update(auto_reload_attempted_at=None)
    spend(tenant, "1")
    assert reloads(tenant).count() == 1


def test_a_card_that_needs_its_holder_to_authenticate_turns_auto_reload_off(tenant, localstripe):
    buy_by_card(tenant, localstripe, card=CARD_ALWAYS_AUTHENTICATES, authenticate=True)
    credit_auto_reload_update(workspace=tenant.workspace, enabled=True, package_id=package("Starter").pk, actor=tenant.user)
    spend(tenant, "450")  # below the automatic threshold: 20% of 500
    run_jobs("credits.tasks.auto_reload_charge")
    (reload,) = reloads(tenant)
    assert reload.status == CreditPurchase.Status.FAILED
    account = CreditAccount.objects.get(workspace=tenant.workspace)
    assert not account.auto_reload_enabled and "confirm" in account.auto_reload_failure
    run_jobs("credits.tasks.send_auto_reload_failed")
    assert any("auto-reload" in email.subject.lower() for email in mail.outbox)


def test_a_card_deleted_in_stripe_turns_auto_reload_off(card_saved, localstripe):
    customer = BillingProfile.objects.get(workspace=card_saved.workspace).stripe_customer_id
    localstripe.client.v1.customers.delete(customer)
    spend(card_saved, "450")
    run_jobs("credits.tasks.auto_reload_charge")
    (reload,) = reloads(card_saved)
    assert reload.status == CreditPurchase.Status.FAILED
    account = CreditAccount.objects.get(workspace=card_saved.workspace)
    assert not account.auto_reload_enabled and "no longer on file" in account.auto_reload_failure


def test_nothing_is_bought_when_auto_reload_is_off(tenant, localstripe):
    buy_by_card(tenant, localstripe)
    spend(tenant, "450")
    assert not reloads(tenant).exists() and not intent_requests(localstripe)
    assert not Job.objects.filter(func="credits.tasks.auto_reload_charge").exists()


def test_auto_reload_cannot_be_turned_on_without_a_saved_card(tenant, client):
    with pytest.raises(ValidationFailed):
        credit_auto_reload_update(workspace=tenant.workspace, enabled=True, package_id=package("Starter").pk, actor=None)
    tenant.browser_client(client)
    page = client.get("/credits/").content.decode()
    assert 'data-testid="auto-reload-needs-card"' in page
    client.post("/credits/auto-reload/", {"enabled": "on", "package": package("Starter").pk})
    assert not CreditAccount.objects.filter(workspace=tenant.workspace, auto_reload_enabled=True).exists()


def test_the_credits_page_turns_auto_reload_on_once_a_card_is_saved(client, tenant, localstripe):
    buy_by_card(tenant, localstripe)
    tenant.browser_client(client)
    page = client.get("/credits/").content.decode()
    assert "ending 4242" in page
    assert client.post("/credits/auto-reload/", {"enabled": "on", "package": package("Pro").pk}).status_code == 302
    account = CreditAccount.objects.get(workspace=tenant.workspace)
    assert account.auto_reload_enabled and account.auto_reload_package == package("Pro")
    client.post("/credits/auto-reload/", {"package": package("Pro").pk})
    assert not CreditAccount.objects.get(workspace=tenant.workspace).auto_reload_enabled


def test_a_payment_intent_webhook_of_a_checkout_changes_nothing(client, tenant, pending_purchase):
    """Checkout's own payment sends payment_intent.succeeded too: its checkout.session event is what pays."""
    event = {
        "id": "evt_pi_checkout",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_checkout",
                "object": "payment_intent",
                "amount": pending_purchase.price_cents,
                "currency": "usd",
                "status": "succeeded",
                "metadata": {"kind": "credits", "workspace_id": str(tenant.workspace.pk)},
            }
        },
    }
    payload = json.dumps(event)
    response = client.post("/webhooks/stripe", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload))
    assert response.status_code == 200
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.PENDING
    assert not CreditTransaction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_below_the_threshold_start_one_reload(tenant, localstripe):
    """The hourly limit holds across processes: it is a row of the database, not a flag in memory."""
    buy_by_card(tenant, localstripe)  # 500 credits, threshold 100
    credit_auto_reload_update(workspace=tenant.workspace, enabled=True, package_id=package("Starter").pk, actor=None)
    spend(tenant, "390")  # 110: just above
    start = threading.Barrier(4)

    def debit(n):
        try:
            start.wait(timeout=10)
            credits_spend(workspace=tenant.workspace, amount="20", reference=f"purchase:race-{n}")
        finally:
            connection.close()

    threads = [threading.Thread(target=debit, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert balance(tenant) == Decimal("30.00")
    assert reloads(tenant).count() == 1
    assert Job.objects.filter(func="credits.tasks.auto_reload_charge").count() == 1
    assert OutboxEvent.objects.filter(workspace=tenant.workspace, type="credits.low").count() == 1


def test_a_reload_whose_outcome_is_unknown_blocks_the_next_so_a_card_is_never_charged_twice(card_saved, localstripe):
    """The charge job of the first reload failed for good (Stripe unreachable through every retry): its
    purchase stays pending. An hour later the balance is still low; buying again would let a staff retry of
    the first job charge the card a second time."""
    tenant = card_saved
    spend(tenant, "450")
    (first,) = reloads(tenant)
    Job.objects.filter(func="credits.tasks.auto_reload_charge").update(status=Job.Status.FAILED)
    CreditAccount.objects.filter(workspace=tenant.workspace).update(
        auto_reload_attempted_at=timezone.now() - timedelta(minutes=61)
    )
    spend(tenant, "1")
    assert list(reloads(tenant)) == [first], "no second reload while the first one's charge is unresolved"
