import json
import threading
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection

from credits.models import CreditAccount, CreditPurchase, CreditTransaction, StripeEvent
from cursive.jobs import job_run
from cursive.models import Job

from .conftest import deliver, load_event, session_event, sign

pytestmark = pytest.mark.django_db


def granted(workspace) -> int:
    return CreditTransaction.objects.filter(account__workspace=workspace, kind="purchase").count()


def test_completed_event_grants_credits_once_over_five_deliveries(client, tenant, pending_purchase):
    event = session_event(pending_purchase)
    statuses = [deliver(client, event).status_code for _ in range(5)]
    assert statuses == [200] * 5
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.COMPLETE
    assert granted(tenant.workspace) == 1
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == Decimal("500.00")
    assert StripeEvent.objects.get().status == StripeEvent.Status.PROCESSED


def test_async_success_after_completed_does_not_grant_again(client, tenant, pending_purchase):
    deliver(client, session_event(pending_purchase))
    deliver(client, session_event(pending_purchase, "checkout.session.async_payment_succeeded"))
    assert granted(tenant.workspace) == 1


def test_delayed_payment_is_granted_when_it_succeeds(client, tenant, pending_purchase):
    deliver(client, session_event(pending_purchase, payment_status="unpaid"))
    assert granted(tenant.workspace) == 0
    deliver(client, session_event(pending_purchase, "checkout.session.async_payment_succeeded"))
    assert granted(tenant.workspace) == 1


def test_expired_after_completed_changes_nothing(client, tenant, pending_purchase):
    deliver(client, session_event(pending_purchase))
    deliver(client, session_event(pending_purchase, "checkout.session.expired", status="expired"))
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.COMPLETE
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == Decimal("500.00")


def test_expired_closes_a_pending_purchase_and_a_late_completion_still_pays(client, tenant, pending_purchase):
    deliver(client, session_event(pending_purchase, "checkout.session.expired", status="expired"))
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.EXPIRED
    # Out of order: the payment went through before the session expired. Money taken means credits given.
    deliver(client, session_event(pending_purchase))
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.COMPLETE and granted(tenant.workspace) == 1


def test_async_payment_failed_closes_the_purchase(client, pending_purchase):
    deliver(client, session_event(pending_purchase, "checkout.session.async_payment_failed"))
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.FAILED


def test_bad_signature_is_400_and_changes_nothing(client, tenant, pending_purchase):
    payload = json.dumps(session_event(pending_purchase))
    for signature in ["", "t=1,v1=deadbeef", sign(payload, secret="whsec_someone_else")]:
        response = client.post("/webhooks/stripe", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_signature"
    tampered = payload.replace('"paid"', '"paid" ')
    response = client.post(
        "/webhooks/stripe", data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )
    assert response.status_code == 400
    assert not StripeEvent.objects.exists() and granted(tenant.workspace) == 0


def test_old_timestamp_outside_tolerance_is_400(client, tenant, pending_purchase, settings):
    old = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS - 10
    assert deliver(client, session_event(pending_purchase), timestamp=old).status_code == 400
    assert granted(tenant.workspace) == 0
    # Clock skew inside the tolerance is fine.
    skewed = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS + 30
    assert deliver(client, session_event(pending_purchase), timestamp=skewed).status_code == 200


def test_timestamp_in_the_future_beyond_tolerance_is_400(client, tenant, pending_purchase, settings):
    """A signature dated an hour ahead would stay replayable for an hour past the tolerance."""
    ahead = int(time.time()) + 3600
    response = deliver(client, session_event(pending_purchase), timestamp=ahead)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_signature"
    assert granted(tenant.workspace) == 0 and not StripeEvent.objects.exists()
    # A clock a little ahead of ours is fine.
    skewed = int(time.time()) + settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS - 30
    assert deliver(client, session_event(pending_purchase), timestamp=skewed).status_code == 200
    assert granted(tenant.workspace) == 1


def test_unknown_event_types_are_recorded_and_answered_200(client):
    event = {"id": "evt_unknown_1", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    response = deliver(client, event)
    assert response.status_code == 200
    assert StripeEvent.objects.get(event_id="evt_unknown_1").status == StripeEvent.Status.IGNORED


@pytest.mark.django_db(transaction=True)
def test_a_failing_handler_answers_500_and_stays_visible_then_reprocess_works(tenant, settings):
    import psycopg
    from django.test import Client

    from credits.models import CreditPackage
    from credits.services import credit_checkout_create, credits_adjust
    from payments.webhooks import stripe_event_process
    from tests.servers import test_database_url

    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_LOCK_TIMEOUT_MS = 200
    purchase = credit_checkout_create(
        workspace=tenant.workspace, package_id=CreditPackage.objects.get(label="Growth").pk, created_by=tenant.user
    )
    credits_adjust(workspace=tenant.workspace, amount="1", actor=None, reason="opening balance")
    event = session_event(purchase)
    # Another transaction (a long report, a stuck job) holds the account row: the handler cannot get it in time.
    with psycopg.connect(test_database_url()) as blocker:
        blocker.execute("SELECT 1 FROM credits_creditaccount WHERE workspace_id = %s FOR UPDATE", [tenant.workspace.pk])
        response = deliver(Client(), event)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "handler_failed"
    stored = StripeEvent.objects.get(event_id=event["id"])
    assert stored.status == StripeEvent.Status.FAILED and "lock" in stored.last_error.lower()
    assert granted(tenant.workspace) == 0
    # Stripe's retry (or staff's Reprocess) succeeds once the lock is gone, and only once.
    assert deliver(Client(), event).status_code == 200
    assert stripe_event_process(event_id=event["id"], force=True).status == StripeEvent.Status.PROCESSED
    assert granted(tenant.workspace) == 1


def test_completion_queues_a_receipt_that_is_emailed(client, tenant, pending_purchase, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        deliver(client, session_event(pending_purchase))
    job = Job.objects.get(func="credits.tasks.send_credit_receipt")
    assert job_run(job.pk) == "succeeded"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [tenant.user.email]
    assert "500.00" in mail.outbox[0].body and "$199.00" in mail.outbox[0].body


def test_card_refund_reverses_credits_when_the_balance_allows(client, tenant, pending_purchase):
    deliver(client, session_event(pending_purchase))
    refund = load_event("charge.refunded")
    refund["data"]["object"]["payment_intent"] = f"pi_test_{pending_purchase.pk}"
    for _ in range(2):
        assert deliver(client, refund).status_code == 200
    account = CreditAccount.objects.get(workspace=tenant.workspace)
    assert account.balance == Decimal("0.00") and not account.needs_review
    assert CreditTransaction.objects.filter(kind="reversal").count() == 1
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.REFUNDED


def test_card_refund_of_spent_credits_flags_the_account_for_staff(client, tenant, pending_purchase):
    from credits.services import credits_spend

    deliver(client, session_event(pending_purchase))
    credits_spend(workspace=tenant.workspace, amount="450", reference="purchase:1")
    refund = load_event("charge.refunded")
    refund["data"]["object"]["payment_intent"] = f"pi_test_{pending_purchase.pk}"
    deliver(client, refund)
    account = CreditAccount.objects.get(workspace=tenant.workspace)
    assert account.balance == Decimal("50.00") and account.needs_review
    assert "500.00 credits" in account.review_note
    assert not CreditTransaction.objects.filter(kind="reversal").exists()


def test_partial_refund_takes_back_a_proportional_share(client, tenant, pending_purchase):
    deliver(client, session_event(pending_purchase))
    refund = load_event("charge.refunded")
    refund["data"]["object"].update(payment_intent=f"pi_test_{pending_purchase.pk}", amount_refunded=9950)
    deliver(client, refund)
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == Decimal("250.00")
    pending_purchase.refresh_from_db()
    assert pending_purchase.status == CreditPurchase.Status.COMPLETE and pending_purchase.refunded_cents == 9950


def test_consistency_after_a_busy_day(client, tenant, pending_purchase):
    deliver(client, session_event(pending_purchase))
    call_command("check_consistency")


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_grant_once(tenant, settings):
    from django.test import Client

    from credits.models import CreditPackage
    from credits.services import credit_checkout_create

    settings.STRIPE_SECRET_KEY = ""
    purchase = credit_checkout_create(
        workspace=tenant.workspace, package_id=CreditPackage.objects.get(label="Growth").pk, created_by=tenant.user
    )
    event = session_event(purchase)
    barrier, statuses, lock = threading.Barrier(10), [], threading.Lock()

    def post():
        try:
            barrier.wait()
            status = deliver(Client(), event).status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 10
    assert granted(tenant.workspace) == 1
    assert CreditAccount.objects.get(workspace=tenant.workspace).balance == Decimal("500.00")
    assert StripeEvent.objects.count() == 1
