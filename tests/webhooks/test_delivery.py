"""Deliveries to a real receiver, verified with the standardwebhooks library; retries on a fast clock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.utils import timezone

from cursive import outbound, retention
from cursive.events import emit
from cursive.models import OutboxEvent
from leads.models import Lead
from leads.services import lead_create
from webhooks import services, tasks
from webhooks.models import Delivery, Endpoint

from .conftest import owner_emails

pytestmark = pytest.mark.django_db


def make_endpoint(tenant, receiver, **fields) -> tuple[Endpoint, str]:
    """Through the API, as a customer does: the secret is in that answer only."""
    response = tenant.api().post("/api/v1/webhooks", {"url": receiver.url, **fields}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    return Endpoint.objects.get(pk=body["id"]), body["secret"]


def deliver_all(now=None) -> int:
    """Dispatch, then send everything due (at `now` on the tests' fast clock)."""
    services.outbox_dispatch()
    client = outbound.OutboundClient()
    try:
        return sum(
            services.endpoint_deliver(endpoint_id=endpoint_id, client=client, now=now)
            for endpoint_id in services.due_endpoints(now=now or timezone.now())
        )
    finally:
        client.close()


def test_the_create_answer_carries_the_secret_once(tenant, receiver):
    response = tenant.api().post("/api/v1/webhooks", {"url": receiver.url, "events": ["lead.created"]}, format="json")
    body = response.json()
    assert set(body) >= {"id", "url", "events", "status", "secret"} and body["secret"].startswith("whsec_")
    assert body["status"] == "enabled" and body["events"] == ["lead.created"]
    listed = tenant.api().get(f"/api/v1/webhooks/{body['id']}").json()
    assert "secret" not in listed
    assert "secret" not in tenant.api().get("/api/v1/webhooks").json()["results"][0]


def test_lead_and_purchase_events_arrive_signed_and_verify_with_the_standard_library(tenant, receiver):
    from credits.services import credits_adjust
    from marketplace.services import purchase_create
    from tests.marketplace.conftest import make_listing

    endpoint, secret = make_endpoint(tenant, receiver)
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "ada@initech.example", "first_name": "Ada"})
    credits_adjust(workspace=tenant.workspace, amount=100, actor=None, reason="test")
    listing = make_listing(price="10.00")
    purchase_create(workspace=tenant.workspace, lead_ids=[listing.pk])
    assert tasks.deliver(seconds=3) == 3

    payloads = [received.verified_by(secret) for received in receiver.got]
    assert [payload["type"] for payload in payloads] == ["lead.created", "lead.created", "purchase.completed"]
    created = payloads[0]
    assert created["data"]["email"] == "ada@initech.example" and created["data"]["lead_id"]
    assert set(created) == {"id", "type", "created_at", "data"}
    assert receiver.got[0].headers["webhook-id"] == created["id"]
    completed = next(p for p in payloads if p["type"] == "purchase.completed")
    assert completed["data"]["kind"] == "leads" and completed["data"]["leads"] == 1
    assert Delivery.objects.filter(endpoint=endpoint, status="succeeded").count() == len(payloads)


def test_a_rolled_back_transaction_delivers_nothing(tenant, receiver):
    make_endpoint(tenant, receiver)
    with pytest.raises(RuntimeError), transaction.atomic():
        lead_create(workspace=tenant.workspace, source="manual", data={"email": "gone@initech.example"})
        raise RuntimeError("the purchase failed after the lead was written")
    assert not OutboxEvent.objects.exists()
    assert tasks.deliver(seconds=1) == 0 and receiver.got == []


def test_an_identified_visitor_is_delivered(tenant, receiver):
    from tests.visitors.conftest import beacon, make_pixel
    from tests.visitors.test_identify import identify, run_identification

    _, secret = make_endpoint(tenant, receiver, events=["visitor.identified"])
    pixel = make_pixel(tenant)
    beacon(Client(), identify(pixel, email="kim@initech.example", first_name="Kim"))
    run_identification()
    deliver_all()
    (payload,) = [received.verified_by(secret) for received in receiver.got]
    assert payload["type"] == "visitor.identified"
    assert payload["data"]["identified_by"] == "identify" and payload["data"]["email"] == "kim@initech.example"
    assert payload["data"]["lead_id"] == Lead.objects.get().pk


def test_only_the_chosen_events_are_sent(tenant, receiver):
    make_endpoint(tenant, receiver, events=["purchase.completed"])
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "skip@initech.example"})
    deliver_all()
    assert receiver.got == [] and not Delivery.objects.exists()


def test_a_receiver_failing_three_times_gets_the_message_four_times_on_the_schedule(tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    receiver.answer_next(500, 503, (429, {"Retry-After": "600"}))
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "retry@initech.example"})
    start = timezone.now()
    deliver_all(now=start)
    delivery = Delivery.objects.get()
    gaps = []
    for _ in range(3):
        due = delivery.next_attempt_at
        gaps.append(due - delivery.last_attempt_at)
        assert deliver_all(now=due - dt.timedelta(seconds=1)) == 0, "not before it is due"
        deliver_all(now=due)
        delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 4 and len(receiver.got) == 4
    assert len({received.headers["webhook-id"] for received in receiver.got}) == 1, "one message id for every try"
    assert dt.timedelta(seconds=4.5) <= gaps[0] <= dt.timedelta(seconds=5.5)
    assert dt.timedelta(minutes=4.5) <= gaps[1] <= dt.timedelta(minutes=5.5)
    assert dt.timedelta(minutes=27) <= gaps[2] <= dt.timedelta(minutes=33), "Retry-After 600 s is shorter than the schedule"
    assert delivery.response_status == 200 and endpoint.failing_since is None


def test_retry_after_longer_than_the_schedule_is_honoured(tenant, receiver):
    make_endpoint(tenant, receiver)
    receiver.answer_next((503, {"Retry-After": "3600"}))
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "later@initech.example"})
    now = timezone.now()
    deliver_all(now=now)
    delivery = Delivery.objects.get()
    assert delivery.next_attempt_at - now >= dt.timedelta(hours=1)


def test_410_gone_disables_the_endpoint_at_once(tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    receiver.answer_next(410)
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "a@initech.example"})
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "b@initech.example"})
    deliver_all()
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled" and endpoint.disabled_by == "gone"
    assert len(receiver.got) == 1
    assert tenant.api().get(f"/api/v1/webhooks/{endpoint.pk}").json()["status"] == "disabled"
    assert owner_emails() == ["Your Cursive webhook was disabled: the receiver answered 410 Gone"]


def test_five_days_of_failures_disable_after_one_warning_and_replay_delivers_what_was_missed_in_order(tenant, receiver):
    endpoint, secret = make_endpoint(tenant, receiver)
    receiver.default = 500
    start = timezone.now()
    clock = start
    # A new lead every 6 hours while the receiver is down; the worker tries whatever is due.
    while clock < start + dt.timedelta(days=6):
        with transaction.atomic():
            lead = lead_create(workspace=tenant.workspace, source="manual", data={"email": f"l{clock.timestamp():.0f}@x.example"})
            OutboxEvent.objects.filter(type="lead.created", data__lead_id=lead.pk).update(created_at=clock)
        services.outbox_dispatch()
        for _ in range(20):
            due = services.next_due_at()
            if due is None or due > clock:
                break
            deliver_all(now=max(due, start))
        clock += dt.timedelta(hours=6)
        endpoint.refresh_from_db()
        if endpoint.status == "disabled":
            break
    assert endpoint.status == "disabled" and endpoint.disabled_by == "failing"
    assert dt.timedelta(days=5) <= endpoint.disabled_at - endpoint.failing_since < dt.timedelta(days=5, hours=12)
    assert owner_emails() == [
        "Your Cursive webhook has been failing for a day",
        "Your Cursive webhook was disabled after 5 days of failures",
    ]
    tried = len(receiver.got)

    # Fixed; re-enabled through the API, and everything it did not receive since the outage is replayed in order.
    receiver.default = 200
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "while-disabled@x.example"})
    services.outbox_dispatch()
    assert tenant.api().patch(f"/api/v1/webhooks/{endpoint.pk}", {"status": "enabled"}, format="json").status_code == 200
    replayed = services.endpoint_replay(
        workspace=tenant.workspace, endpoint_id=endpoint.pk, since=start - dt.timedelta(minutes=1)
    )
    assert replayed == OutboxEvent.objects.filter(type="lead.created").count()
    while deliver_all():
        pass
    delivered = [received.verified_by(secret)["data"]["lead_id"] for received in receiver.got[tried:]]
    assert delivered == sorted(delivered) and len(delivered) == replayed
    assert delivered[-1] == Lead.objects.get(email="while-disabled@x.example").pk


def test_during_a_rotation_both_secrets_verify_and_after_the_overlap_only_the_new_one(tenant, receiver):
    endpoint, old = make_endpoint(tenant, receiver)
    new = tenant.api().post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret").json()["secret"]
    assert new != old and new.startswith("whsec_")
    tenant.api().post(f"/api/v1/webhooks/{endpoint.pk}/test")
    deliver_all()
    (received,) = receiver.got
    assert received.verified_by(old)["type"] == "webhook.test"
    assert received.verified_by(new)["type"] == "webhook.test"
    assert len(received.headers["webhook-signature"].split(" ")) == 2

    endpoint.refresh_from_db()
    later = endpoint.previous_secret_expires_at + dt.timedelta(seconds=1)
    event = emit(workspace=tenant.workspace, type="webhook.test", data={"endpoint_id": endpoint.pk})
    headers = services.signature_headers(endpoint, event, services.payload(event), later)
    assert len(headers["webhook-signature"].split(" ")) == 1


def test_the_test_event_goes_only_to_its_endpoint(tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    other, _ = make_endpoint(tenant, receiver, description="second")
    assert tenant.api().post(f"/api/v1/webhooks/{endpoint.pk}/test").status_code == 202
    deliver_all()
    assert receiver.types() == ["webhook.test"]
    assert not Delivery.objects.filter(endpoint=other).exists()


def test_the_delivery_log_and_retry_now(tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    receiver.answer_next(500)
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "log@initech.example"})
    deliver_all()
    (row,) = tenant.api().get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["results"]
    assert set(row) == {"id", "event_id", "event_type", "status", "attempts", "response_status", "created_at", "next_attempt_at"}
    assert (row["status"], row["attempts"], row["response_status"], row["event_type"]) == ("pending", 1, 500, "lead.created")
    assert row["event_id"].startswith("msg_")
    delivery = Delivery.objects.get()
    assert delivery.response_body == "receiver says no"
    assert tenant.api().post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{row['id']}/retry").status_code == 202
    deliver_all()
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 2 and len(receiver.got) == 2


def test_unsafe_urls_are_refused_when_private_networks_are(tenant, receiver):
    for url in ("http://127.0.0.1/hook", "http://[::1]/hook", "http://10.1.2.3/", "http://169.254.169.254/latest/meta-data"):
        response = tenant.api().post("/api/v1/webhooks", {"url": url}, format="json")
        assert response.status_code == 400 and response.json()["error"]["fields"]["url"], url


def test_unknown_event_types_are_a_400(tenant, receiver):
    response = tenant.api().post("/api/v1/webhooks", {"url": receiver.url, "events": ["lead.exploded"]}, format="json")
    assert response.status_code == 400 and "lead.exploded" in response.json()["error"]["message"]


def test_members_who_do_not_manage_the_workspace_cannot_manage_endpoints(tenant_factory):
    from accounts.models import Membership

    tenant = tenant_factory("Acme")
    Membership.objects.filter(user=tenant.user).update(role=Membership.Role.MEMBER)
    assert tenant.api().get("/api/v1/webhooks").status_code == 403


def test_old_deliveries_and_events_are_pruned_in_batches(tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    for n in range(7):
        lead_create(workspace=tenant.workspace, source="manual", data={"email": f"old{n}@x.example"})
    deliver_all()
    old = timezone.now() - dt.timedelta(days=31)
    Delivery.objects.update(created_at=old)
    OutboxEvent.objects.update(created_at=old)
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "new@x.example"})
    deliver_all()
    assert retention.rule_apply(name="webhook deliveries", batch_size=3) == 7
    assert retention.rule_apply(name="outbox events", batch_size=3) == 7
    assert Delivery.objects.count() == 1 and OutboxEvent.objects.count() == 1
    assert mail.outbox == []


def test_retention_keeps_what_is_still_being_delivered_or_not_yet_dispatched(tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "done@x.example"})
    lead_create(workspace=tenant.workspace, source="manual", data={"email": "retrying@x.example"})
    deliver_all()
    retrying = Delivery.objects.order_by("pk").last()
    Delivery.objects.filter(pk=retrying.pk).update(status=Delivery.Status.PENDING)
    undispatched = emit(workspace=tenant.workspace, type="lead.updated", data={"id": 1})
    old = timezone.now() - dt.timedelta(days=31)
    Delivery.objects.update(created_at=old)
    OutboxEvent.objects.update(created_at=old)

    assert retention.rule_apply(name="webhook deliveries") == 1
    assert retention.rule_apply(name="outbox events") == 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [retrying.pk]
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {retrying.event_id, undispatched.pk}
    assert retention.rule_apply(name="webhook deliveries") == retention.rule_apply(name="outbox events") == 0


def test_slack_cool_down_rows_go_once_past_the_longest_cool_down(tenant, receiver):
    from webhooks.models import SlackAlertSent

    endpoint, _ = make_endpoint(tenant, receiver)
    Endpoint.objects.filter(pk=endpoint.pk).update(cooldown_minutes=120)
    now = timezone.now()
    for subject, minutes in (("lead:1", 121), ("lead:2", 119)):
        SlackAlertSent.objects.create(endpoint=endpoint, subject=subject, sent_at=now - dt.timedelta(minutes=minutes))

    assert retention.rule_apply(name="slack alert cool-downs") == 1
    assert list(SlackAlertSent.objects.values_list("subject", flat=True)) == ["lead:2"]


def test_score_band_changes_and_updates_are_events(tenant, receiver):
    from leads.services import ideal_customer_profile_update, leads_bulk_update, leads_rescore

    lead = lead_create(
        workspace=tenant.workspace,
        source="manual",
        data={"email": "band@x.example", "company_size": "51-200", "industry": "SaaS"},
    )
    lead.__class__.objects.filter(pk=lead.pk).update(email_status="valid", phone_status="valid")
    ideal_customer_profile_update(workspace=tenant.workspace, company_sizes=["51-200"], industries=["SaaS"])
    leads_rescore(workspace=tenant.workspace)
    leads_bulk_update(workspace=tenant.workspace, action="tag", lead_ids=[lead.pk], tags="vip")
    leads_bulk_update(workspace=tenant.workspace, action="tag", lead_ids=[lead.pk], tags="vip")
    events = list(OutboxEvent.objects.order_by("pk").values_list("type", flat=True))
    assert events.count("lead.scored") == 1 and events.count("lead.updated") == 1, events
    scored = OutboxEvent.objects.get(type="lead.scored").data
    assert (scored["previous_band"], scored["band"]) == ("cold", "hot")
    updated = OutboxEvent.objects.get(type="lead.updated").data
    assert updated["changed"] == ["tags"] and updated["tags"] == ["vip"]


def test_a_partner_hears_that_an_upload_was_reviewed(tenant_factory, receiver):
    from partners.services import upload_approve, upload_reject
    from tests.partners.conftest import csv_text, person, upload_bytes

    partner = tenant_factory("LeadForge", kind="partner")
    _, secret = make_endpoint(partner, receiver, events=["upload.reviewed"])
    approved = upload_bytes(partner, csv_text([person(1), person(2)]).encode(), price="10.00")
    upload_approve(upload_id=approved.pk, actor=None)
    rejected = upload_bytes(partner, csv_text([person(3)]).encode(), price="10.00")
    upload_reject(upload_id=rejected.pk, actor=None, note="No consent records for these people.")
    deliver_all()
    first, second = (received.verified_by(secret)["data"] for received in receiver.got)
    assert (first["upload_id"], first["status"], first["listed_rows"]) == (approved.pk, "listed", 2)
    assert (second["status"], second["note"]) == ("rejected", "No consent records for these people.")


def test_credits_low_is_delivered_once_per_crossing(tenant, receiver):
    from credits.services import credit_account_settings_update, credits_adjust, credits_spend

    _, secret = make_endpoint(tenant, receiver, events=["credits.low"])
    credits_adjust(workspace=tenant.workspace, amount=100, actor=None, reason="opening")
    credit_account_settings_update(workspace=tenant.workspace, low_balance_threshold="20")
    for n in range(4):
        credits_spend(workspace=tenant.workspace, amount=25, reference=f"audit:{n}", reason="test spend")
    deliver_all()
    (payload,) = [received.verified_by(secret) for received in receiver.got]
    assert payload["type"] == "credits.low"
    assert (payload["data"]["balance"], payload["data"]["threshold"]) == ("0.00", "20.00"), "the fourth spend crossed"


def test_buying_credits_delivers_purchase_completed(client, tenant, receiver, settings):
    from credits.models import CreditPackage
    from credits.services import credit_checkout_create
    from tests.credits.conftest import deliver as stripe_delivers
    from tests.credits.conftest import session_event

    _, secret = make_endpoint(tenant, receiver, events=["purchase.completed"])
    settings.STRIPE_SECRET_KEY = ""  # the local checkout: no network
    package = CreditPackage.objects.get(label="Growth")
    purchase = credit_checkout_create(workspace=tenant.workspace, package_id=package.pk, created_by=tenant.user)
    assert stripe_delivers(client, session_event(purchase)).status_code == 200
    assert stripe_delivers(client, session_event(purchase)).status_code == 200, "Stripe sends it again"
    deliver_all()
    (payload,) = [received.verified_by(secret) for received in receiver.got]
    assert payload["data"]["kind"] == "credits" and payload["data"]["purchase_id"] == purchase.reference
    assert payload["data"]["amount_cents"] == purchase.price_cents
