"""Settings -> Webhooks: the pages render, every action works through them, refusals show, tenancy holds."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Membership
from accounts.services import user_create
from cursive.models import OutboxEvent
from leads.services import lead_create
from webhooks import views
from webhooks.models import Delivery, Endpoint

from .test_delivery import deliver_all, make_endpoint

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def browser(client, tenant):
    return tenant.browser_client(client)


def add_endpoint(browser, url, **fields) -> tuple[Endpoint, str]:
    response = browser.post("/settings/webhooks/new/", {"url": url, "send": "all", **fields})
    assert response.status_code == 201, response.content.decode()[:2000]
    secret = re.search(r'data-testid="endpoint-secret">(whsec_[^<]+)<', response.content.decode()).group(1)
    return Endpoint.objects.latest("pk"), secret


def new_lead(tenant, email):
    return lead_create(workspace=tenant.workspace, source="manual", data={"email": email})


# --- Rendering ------------------------------------------------------------------------------------------------


def test_the_pages_render_empty(browser):
    listing = browser.get("/settings/webhooks/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert (
        "No endpoint yet" in body and 'href="/settings/webhooks/new/"' in body and 'href="/settings/webhooks/new/slack/"' in body
    )
    assert 'href="/settings/webhooks/"' in browser.get("/settings/").content.decode()
    for path, field in (("/settings/webhooks/new/", "Endpoint URL"), ("/settings/webhooks/new/slack/", "Minimum score")):
        page = browser.get(path)
        assert page.status_code == 200 and field in page.content.decode()


def test_an_endpoint_page_renders_without_deliveries(browser, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    body = browser.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "No deliveries" in body and "Send test event" in body and "Rotate secret" in body and receiver.url in body


def test_the_list_shows_each_endpoint_with_its_last_delivery(browser, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver, events=["lead.created"], description="CRM sync")
    receiver.answer_next(500)
    new_lead(tenant, "first@initech.example")
    deliver_all()
    body = browser.get("/settings/webhooks/").content.decode()
    assert receiver.url in body and "CRM sync" in body and "lead.created" in body and "HTTP 500" in body
    assert "pending" in body and "enabled" in body
    Endpoint.objects.filter(pk=endpoint.pk).update(status="disabled", disabled_by="gone", disabled_at=timezone.now())
    assert "The receiver answered 410 Gone" in browser.get("/settings/webhooks/").content.decode()


# --- Adding ---------------------------------------------------------------------------------------------------


def test_adding_an_endpoint_shows_its_secret_once(browser, tenant, receiver):
    endpoint, secret = add_endpoint(
        browser, receiver.url, send="chosen", events=["lead.created", "purchase.completed"], description="HubSpot"
    )
    assert secret == endpoint.secret and endpoint.workspace == tenant.workspace
    assert endpoint.kind == "webhook" and endpoint.events == ["lead.created", "purchase.completed"]
    assert endpoint.description == "HubSpot"
    page = browser.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert secret not in page and "whsec_" not in page
    assert secret not in browser.get("/settings/webhooks/").content.decode()


def test_the_created_answer_says_how_to_verify(browser, receiver):
    response = browser.post("/settings/webhooks/new/", {"url": receiver.url, "send": "all"})
    body = response.content.decode()
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert header in body
    assert 'data-copy="endpoint-secret"' in body
    assert Endpoint.objects.get().events == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"url": "http://127.0.0.1/hook"}, "url", "127.0.0.1"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url", "169.254.169.254"),
        ({"send": "chosen", "events": ["lead.exploded"]}, "events", "lead.exploded is not one of the available choices"),
        ({"send": "chosen"}, "events", "Choose at least one event"),
        ({"url": ""}, "url", "This field is required"),
    ],
)
def test_refusals_show_on_the_form(browser, receiver, fields, field, message):
    response = browser.post("/settings/webhooks/new/", {"url": receiver.url, "send": "all", **fields})
    assert response.status_code == 200
    body = response.content.decode()
    errors = re.findall(r'<ul class="errors">(.*?)</ul>', body, re.S)
    assert errors and any(message in error for error in errors), errors
    assert not Endpoint.objects.exists()


def test_adding_a_slack_alert(browser, tenant, receiver):
    response = browser.post(
        "/settings/webhooks/new/slack/",
        {"url": receiver.url, "send": "chosen", "events": ["visitor.identified"], "min_score": "70", "cooldown_minutes": "30"},
    )
    endpoint = Endpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/settings/webhooks/{endpoint.pk}/"
    assert (endpoint.kind, endpoint.events, endpoint.min_score, endpoint.cooldown_minutes) == (
        "slack",
        ["visitor.identified"],
        70,
        30,
    )
    page = browser.get(response["Location"]).content.decode()
    assert "Slack alert added" in page and "whsec_" not in page and "Rotate secret" not in page
    listing = browser.get("/settings/webhooks/").content.decode()
    assert "Slack" in listing and "score ≥ 70" in listing


def test_a_slack_alert_refuses_a_score_over_100(browser, receiver):
    response = browser.post(
        "/settings/webhooks/new/slack/", {"url": receiver.url, "send": "all", "min_score": "170", "cooldown_minutes": "60"}
    )
    assert response.status_code == 200 and "less than or equal to 100" in response.content.decode()
    assert not Endpoint.objects.exists()


# --- The endpoint page's actions ------------------------------------------------------------------------------


def test_editing_an_endpoint(browser, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    response = browser.post(
        f"/settings/webhooks/{endpoint.pk}/",
        {"url": receiver.url + "/v2", "send": "chosen", "events": ["credits.low"], "description": "Billing"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.description) == (receiver.url + "/v2", ["credits.low"], "Billing")
    unsafe = browser.post(f"/settings/webhooks/{endpoint.pk}/", {"url": "http://10.1.2.3/", "send": "all"})
    assert unsafe.status_code == 200 and '<ul class="errors"><li>' in unsafe.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == receiver.url + "/v2"


def test_editing_a_slack_alerts_filters(browser, tenant, receiver):
    browser.post("/settings/webhooks/new/slack/", {"url": receiver.url, "send": "all", "cooldown_minutes": "60"})
    endpoint = Endpoint.objects.get()
    page = browser.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "Minimum score" in page and "Cool-down (minutes)" in page
    response = browser.post(
        f"/settings/webhooks/{endpoint.pk}/",
        {"url": receiver.url, "send": "chosen", "events": ["lead.scored"], "min_score": "80", "cooldown_minutes": "5"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.events, endpoint.min_score, endpoint.cooldown_minutes) == (["lead.scored"], 80, 5)


def test_disabling_and_enabling(browser, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    response = browser.post(f"/settings/webhooks/{endpoint.pk}/status/", {"status": "disabled"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled" and endpoint.disabled_by == "user"
    assert "Disabled by a member" in browser.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    enabled = browser.post(f"/settings/webhooks/{endpoint.pk}/status/", {"status": "enabled"})
    assert enabled["Location"] == f"/settings/webhooks/{endpoint.pk}/", "a member's own pause offers no replay"
    endpoint.refresh_from_db()
    assert endpoint.status == "enabled"
    bad = browser.post(
        f"/settings/webhooks/{endpoint.pk}/status/", {"status": "paused"}, HTTP_REFERER=f"/settings/webhooks/{endpoint.pk}/"
    )
    assert bad.status_code == 302 and "enabled or disabled" in browser.get(bad["Location"]).content.decode()


def test_re_enabling_after_cursive_disabled_it_offers_to_replay_what_was_missed(browser, tenant, receiver):
    endpoint, secret = make_endpoint(tenant, receiver)
    receiver.answer_next(410)
    new_lead(tenant, "gone@initech.example")
    deliver_all()
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled" and endpoint.disabled_by == "gone"
    assert "The receiver answered 410 Gone" in browser.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    new_lead(tenant, "missed-1@initech.example")
    new_lead(tenant, "missed-2@initech.example")
    deliver_all()
    assert len(receiver.got) == 1

    enabled = browser.post(f"/settings/webhooks/{endpoint.pk}/status/", {"status": "enabled"})
    assert enabled["Location"] == f"/settings/webhooks/{endpoint.pk}/?replay=missed"
    offer = browser.get(enabled["Location"]).content.decode()
    assert 'data-testid="replay-offer"' in offer and "Replay 2 missed events since" in offer
    since = re.search(r'name="since" value="([^"]+)"', offer).group(1)
    replayed = browser.post(f"/settings/webhooks/{endpoint.pk}/replay/", {"since": since})
    assert replayed.status_code == 302
    assert "2 events will be delivered again" in browser.get(replayed["Location"]).content.decode()
    deliver_all()
    emails = [received.verified_by(secret)["data"]["email"] for received in receiver.got[1:]]
    assert emails == ["missed-1@initech.example", "missed-2@initech.example"]


def test_sending_a_test_event_shows_it_in_the_log(browser, tenant, receiver):
    endpoint, secret = make_endpoint(tenant, receiver)
    response = browser.post(f"/settings/webhooks/{endpoint.pk}/test/")
    assert response.status_code == 302
    assert OutboxEvent.objects.get().type == "webhook.test"
    deliver_all()
    assert receiver.got[0].verified_by(secret)["type"] == "webhook.test"
    log = browser.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "webhook.test" in log and "succeeded" in log and "HTTP 200" in log


def test_rotating_the_secret_shows_the_new_one_once(browser, tenant, receiver):
    endpoint, old = make_endpoint(tenant, receiver)
    response = browser.post(f"/settings/webhooks/{endpoint.pk}/rotate-secret/")
    assert response.status_code == 200
    endpoint.refresh_from_db()
    body = response.content.decode()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in body and old not in body and "24 hours" in body
    assert endpoint.secret not in browser.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()


def test_a_slack_alert_has_no_secret_to_rotate(browser, tenant, receiver):
    browser.post("/settings/webhooks/new/slack/", {"url": receiver.url, "send": "all", "cooldown_minutes": "60"})
    endpoint = Endpoint.objects.get()
    secret = endpoint.secret
    response = browser.post(f"/settings/webhooks/{endpoint.pk}/rotate-secret/", HTTP_REFERER=f"/settings/webhooks/{endpoint.pk}/")
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.secret == secret


def test_deleting_an_endpoint(browser, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    page = browser.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "data-confirm=" in page.split('data-testid="delete-endpoint"')[0].rsplit("<form", 1)[1]
    response = browser.post(f"/settings/webhooks/{endpoint.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/settings/webhooks/"
    assert not Endpoint.objects.exists()
    assert browser.get(f"/settings/webhooks/{endpoint.pk}/").status_code == 404


def test_replay_since_confirms_with_the_count_then_replays(browser, tenant, receiver):
    endpoint, secret = make_endpoint(tenant, receiver)
    new_lead(tenant, "one@initech.example")
    new_lead(tenant, "two@initech.example")
    deliver_all()
    since = (timezone.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    confirm = browser.get(f"/settings/webhooks/{endpoint.pk}/replay/", {"since": since}, **HTMX)
    body = confirm.content.decode()
    assert confirm.status_code == 200 and "<html" not in body
    assert "Nothing to replay" in body, "both were received"
    Delivery.objects.filter(event__data__email="two@initech.example").update(status="failed")
    page = browser.get(f"/settings/webhooks/{endpoint.pk}/replay/", {"since": since}).content.decode()
    assert "Replay 1 event since" in page and "data-confirm=" in page
    response = browser.post(f"/settings/webhooks/{endpoint.pk}/replay/", {"since": since})
    assert response.status_code == 302
    deliver_all()
    assert [received.verified_by(secret)["data"]["email"] for received in receiver.got] == [
        "one@initech.example",
        "two@initech.example",
        "two@initech.example",
    ]


def test_replay_without_a_valid_moment_is_refused(browser, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    response = browser.get(f"/settings/webhooks/{endpoint.pk}/replay/", {"since": "yesterday-ish"})
    assert response.status_code == 400 and "Choose when to replay from" in response.content.decode()


# --- The delivery log -----------------------------------------------------------------------------------------


def test_the_delivery_log_filters_pages_and_opens_a_message(browser, tenant, receiver, monkeypatch):
    monkeypatch.setattr(views, "DELIVERIES_PAGE_SIZE", 2)
    endpoint, _ = make_endpoint(tenant, receiver)
    receiver.default = 503
    for n in range(3):
        new_lead(tenant, f"lead{n}@initech.example")
    deliver_all()  # the first fails; the others wait behind it, in order
    Delivery.objects.filter(event__data__email="lead2@initech.example").update(status="succeeded", response_status=200)
    url = f"/settings/webhooks/{endpoint.pk}/"

    page = browser.get(url).content.decode()
    assert page.count('data-testid="delivery-row"') == 2 and 'id="more-deliveries"' in page
    cursor = re.search(r"cursor=([\w=-]+)", page).group(1)
    more = browser.get(url, {"cursor": cursor}, **HTMX).content.decode()
    assert more.count('data-testid="delivery-row"') == 1 and "<html" not in more and "more-deliveries" not in more

    pending = browser.get(url, {"status": "pending"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="delivery-log")
    assert pending.status_code == 200 and pending["HX-Push-Url"] == f"{url}?status=pending"
    assert pending.content.decode().count('data-testid="delivery-row"') == 2 and "<html" not in pending.content.decode()
    assert browser.get(url, {"status": "nonsense"}).status_code == 200
    assert browser.get(url, {"cursor": "garbage"}).status_code == 302

    failed = Delivery.objects.get(event__data__email="lead0@initech.example")
    assert failed.attempts == 1 and failed.response_status == 503
    drawer = browser.get(f"{url}deliveries/{failed.pk}/", **HTMX).content.decode()
    assert "<html" not in drawer and 'data-testid="delivery-detail"' in drawer
    assert "lead0@initech.example" in drawer and failed.event.public_id in drawer and "receiver says no" in drawer
    assert "HTTP 503" in drawer and "Retry now" in drawer
    full = browser.get(f"{url}deliveries/{failed.pk}/")
    assert full.status_code == 200 and "<html" in full.content.decode()


def test_the_payload_shown_is_the_json_that_was_sent(browser, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    new_lead(tenant, "ada@initech.example")
    deliver_all()
    delivery = Delivery.objects.get()
    body = browser.get(f"/settings/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/").content.decode()
    sent = receiver.got[0].body.decode()
    assert sent.replace('"', "&quot;") in body


def test_retry_now_from_the_log(browser, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    receiver.answer_next(500)
    new_lead(tenant, "retry@initech.example")
    deliver_all()
    delivery = Delivery.objects.get()
    assert delivery.next_attempt_at > timezone.now()
    response = browser.post(f"/settings/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry/")
    assert response.status_code == 302
    deliver_all()
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 2


@contextmanager
def counting_queries() -> Iterator[list[str]]:
    """The statements run inside, counted as they execute (Django's query log keeps at most 9,000 entries)."""
    statements: list[str] = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield statements


def test_the_log_costs_the_same_queries_for_more_deliveries(browser, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    new_lead(tenant, "only@initech.example")
    deliver_all()
    url = f"/settings/webhooks/{endpoint.pk}/"
    with counting_queries() as few:
        assert browser.get(url).status_code == 200
    for n in range(12):
        new_lead(tenant, f"more{n}@initech.example")
    deliver_all()
    with counting_queries() as many:
        page = browser.get(url)
    assert page.content.decode().count('data-testid="delivery-row"') == 13
    assert 0 < len(many) <= len(few)


def test_the_list_costs_the_same_queries_for_more_endpoints(browser, tenant, receiver):
    make_endpoint(tenant, receiver)
    new_lead(tenant, "only@initech.example")
    deliver_all()
    with counting_queries() as one:
        browser.get("/settings/webhooks/")
    for n in range(3):
        make_endpoint(tenant, receiver, description=f"more {n}")
    with counting_queries() as more:
        assert browser.get("/settings/webhooks/").content.decode().count('data-testid="endpoint-row"') == 4
    assert 0 < len(more) <= len(one)


# --- Who may -----------------------------------------------------------------------------------------------


def _paths(endpoint_id, delivery_id):
    base = f"/settings/webhooks/{endpoint_id}/"
    gets = [
        "/settings/webhooks/",
        "/settings/webhooks/new/",
        "/settings/webhooks/new/slack/",
        base,
        f"{base}deliveries/{delivery_id}/",
    ]
    posts = [
        "/settings/webhooks/new/",
        "/settings/webhooks/new/slack/",
        base,
        f"{base}status/",
        f"{base}test/",
        f"{base}rotate-secret/",
        f"{base}delete/",
        f"{base}replay/",
        f"{base}deliveries/{delivery_id}/retry/",
    ]
    return gets, posts


def test_members_without_the_manager_role_are_refused(client, tenant, receiver):
    endpoint, _ = make_endpoint(tenant, receiver)
    new_lead(tenant, "member@initech.example")
    deliver_all()
    delivery = Delivery.objects.get()
    member = user_create(email="member@acme.test", password="member-pass-123")
    Membership.objects.create(user=member, workspace=tenant.workspace, role=Membership.Role.MEMBER)
    client.force_login(member)
    gets, posts = _paths(endpoint.pk, delivery.pk)
    for path in gets:
        assert client.get(path).status_code == 403, path
    for path in posts:
        assert client.post(path, {"status": "disabled", "url": receiver.url, "send": "all"}).status_code == 403, path
    assert Endpoint.objects.get().status == "enabled" and Endpoint.objects.count() == 1
    settings_page = client.get("/settings/").content.decode()
    assert "Ask an owner or admin to manage webhooks" in settings_page
    assert 'href="/settings/webhooks/"' not in settings_page, "no link to a page they cannot open"


def test_another_workspaces_endpoint_and_delivery_are_not_found(browser, other_tenant, receiver):
    theirs, secret = make_endpoint(other_tenant, receiver)
    new_lead(other_tenant, "theirs@globex.example")
    deliver_all()
    delivery = Delivery.objects.get()
    gets, posts = _paths(theirs.pk, delivery.pk)
    for path in gets[3:]:
        assert browser.get(path).status_code == 404, path
        assert browser.get(path, **HTMX).status_code == 404, path
    assert browser.get(f"/settings/webhooks/{theirs.pk}/", {"cursor": "x"}, **HTMX).status_code == 404
    assert browser.get(f"/settings/webhooks/{theirs.pk}/replay/", {"since": "2026-01-01T00:00"}).status_code == 404
    for path in posts[2:]:
        response = browser.post(path, {"status": "disabled", "url": receiver.url, "send": "all", "since": "2026-01-01T00:00"})
        assert response.status_code == 404, path
    theirs.refresh_from_db()
    assert theirs.status == "enabled" and theirs.secret == secret
    assert browser.get("/settings/webhooks/").content.decode().count('data-testid="endpoint-row"') == 0


def test_a_delivery_of_another_endpoint_is_not_found_under_mine(browser, tenant, other_tenant, receiver):
    mine, _ = make_endpoint(tenant, receiver)
    make_endpoint(other_tenant, receiver)
    new_lead(other_tenant, "theirs@globex.example")
    deliver_all()
    theirs = Delivery.objects.get()
    assert browser.get(f"/settings/webhooks/{mine.pk}/deliveries/{theirs.pk}/").status_code == 404
    assert browser.post(f"/settings/webhooks/{mine.pk}/deliveries/{theirs.pk}/retry/").status_code == 404
