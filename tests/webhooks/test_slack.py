"""Slack alerts, added through the page, delivered to a real receiver standing for Slack's incoming webhook."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.test import Client

from cursive.events import emit
from cursive.models import OutboxEvent
from webhooks.models import Endpoint, SlackAlertSent

from .test_delivery import deliver_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, tenant):
    return tenant.browser_client(client)


def add_slack_alert(browser, receiver, *, events=("visitor.identified",), min_score="", cooldown_minutes=60) -> Endpoint:
    response = browser.post(
        "/settings/webhooks/new/slack/",
        {
            "url": receiver.url,
            "send": "chosen",
            "events": list(events),
            "min_score": min_score,
            "cooldown_minutes": cooldown_minutes,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Endpoint.objects.get(kind="slack")


@pytest.fixture
def pixel(tenant):
    from tests.visitors.conftest import make_pixel

    return make_pixel(tenant)


def identify_visitor(pixel, visitor="visitor-1", **traits) -> dict:
    """The snippet's identify call, through the collection endpoint and the identification job; returns the
    visitor.identified event's data."""
    from tests.visitors.conftest import beacon
    from tests.visitors.test_identify import identify, run_identification

    traits = {"email": "kim@initech.example", "first_name": "Kim", "last_name": "Park", "company_name": "Initech", **traits}
    beacon(Client(), identify(pixel, visitor, **traits))
    assert run_identification() == 1
    return OutboxEvent.objects.filter(type="visitor.identified").latest("pk").data


def texts(receiver) -> list[str]:
    return [received.json()["text"] for received in receiver.got]


def test_an_identified_visitor_scoring_at_least_the_minimum_posts_a_readable_message(browser, receiver, pixel, settings):
    settings.SITE_URL = "https://app.cursive.example"
    data = identify_visitor(pixel)
    assert isinstance(data["score"], int)
    add_slack_alert(browser, receiver, min_score=data["score"])
    deliver_all()
    (text,) = texts(receiver)
    assert "Kim Park at Initech" in text and f"(score {data['score']})" in text
    assert f"<https://app.cursive.example/visitors/{data['visitor_id']}/|See the visit>" in text
    assert set(receiver.got[0].json()) == {"text"}


def test_a_lower_score_posts_nothing(browser, receiver, pixel):
    data = identify_visitor(pixel)
    endpoint = add_slack_alert(browser, receiver, min_score=data["score"] + 1)
    deliver_all()
    assert receiver.got == []
    assert not endpoint.deliveries.exists()


def test_the_same_visitor_within_the_cool_down_posts_once_and_again_after_it(browser, receiver, pixel):
    endpoint = add_slack_alert(browser, receiver, cooldown_minutes=30)
    identify_visitor(pixel)
    deliver_all()
    # The same visitor names themselves again (a form with another address): a second visitor.identified.
    identify_visitor(pixel, email="kim.park@initech.example")
    deliver_all()
    assert len(receiver.got) == 1, "a second identification within 30 minutes posts nothing"
    identify_visitor(pixel, visitor="visitor-2", email="lee@globex.example", first_name="Lee", company_name="Globex")
    deliver_all()
    assert "Lee" in texts(receiver)[1], "the cool-down is per visitor"

    # 31 minutes on, the cool-down is over.
    alert = SlackAlertSent.objects.get(endpoint=endpoint, subject__endswith=f":{pixel.visitors.get(key='visitor-1').pk}")
    SlackAlertSent.objects.filter(pk=alert.pk).update(sent_at=alert.sent_at - dt.timedelta(minutes=31))
    identify_visitor(pixel, email="kim@initech-mail.example")
    deliver_all()
    assert len(receiver.got) == 3 and "Kim Park" in texts(receiver)[2]


def test_credits_low_posts_a_readable_message(browser, tenant, receiver, settings):
    settings.SITE_URL = "https://app.cursive.example"
    add_slack_alert(browser, receiver, events=["credits.low"])
    with transaction.atomic():
        emit(workspace=tenant.workspace, type="credits.low", data={"balance": "12.50", "threshold": "20.00"})
    deliver_all()
    (text,) = texts(receiver)
    assert "Credits are low: 12.50 left (alert below 20.00)" in text
    assert "<https://app.cursive.example/credits/|Buy credits>" in text


def test_slack_receives_no_standard_webhooks_signature(browser, receiver, pixel):
    add_slack_alert(browser, receiver)
    identify_visitor(pixel)
    deliver_all()
    (received,) = receiver.got
    assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & set(received.headers)
    assert received.headers["content-type"] == "application/json"


def test_the_test_event_posts_to_the_channel(browser, receiver):
    endpoint = add_slack_alert(browser, receiver)
    assert browser.post(f"/settings/webhooks/{endpoint.pk}/test/").status_code == 302
    deliver_all()
    assert texts(receiver) == [":wave: Cursive is connected to this channel."]


def test_a_company_only_visitor_has_no_score_and_does_not_pass_a_score_filter(tenant, receiver):
    from cursive.events import emit
    from webhooks.models import Delivery
    from webhooks.services import endpoint_create, outbox_dispatch

    endpoint = endpoint_create(
        workspace=tenant.workspace, url=receiver.url, kind="slack", events=["visitor.identified", "credits.low"], min_score=70
    )
    emit(workspace=tenant.workspace, type="visitor.identified", data={"visitor_id": 1, "identified_by": "ip", "score": None})
    emit(workspace=tenant.workspace, type="credits.low", data={"balance": "3.00", "threshold": "20.00"})
    outbox_dispatch()
    assert list(Delivery.objects.filter(endpoint=endpoint).values_list("event__type", flat=True)) == ["credits.low"]
