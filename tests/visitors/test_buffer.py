"""Beacon events buffered in the web process: answered at once, written together by the process's writer
thread, nothing lost when a write fails, nothing written for a pixel deleted meanwhile."""

import time

import pytest
from django.db import OperationalError
from django.test import Client

from visitors import buffer, collect, services
from visitors.models import Event, Visitor

from .conftest import beacon, make_pixel, pageview

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def buffered(settings):
    settings.PIXEL_BUFFER_MS = 50
    settings.PIXEL_BUFFER_EVENTS = 1000
    return buffer.events


def wait_for(condition, what: str, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_many_requests_are_answered_at_once_and_written_together_by_the_writer_thread(tenant, buffered, monkeypatch):
    pixel = make_pixel(tenant)
    writes = []
    real = services.events_record
    monkeypatch.setattr(services, "events_record", lambda **kw: writes.append(len(kw["events"])) or real(**kw))
    client = Client()
    for n in range(30):
        assert beacon(client, pageview(pixel, visitor=f"v{n % 3}", url=f"https://example.com/{n}")).status_code == 202
    wait_for(lambda: Event.objects.filter(pixel_id=pixel.pk).count() == 30, "the writer thread")
    assert len(writes) < 30, "requests' events are written together"
    assert sorted(Visitor.objects.values_list("pageviews", flat=True)) == [10, 10, 10]
    first = Event.objects.filter(pixel_id=pixel.pk).order_by("received_at").first()
    assert first.url == "https://example.com/0", "each event keeps the time it was received"


def test_a_failed_write_keeps_the_events_for_the_next_one(tenant, buffered, monkeypatch, settings):
    settings.PIXEL_BUFFER_MS = 60_000  # the test flushes by hand
    pixel = make_pixel(tenant)
    beacon(Client(), [pageview(pixel, url="https://example.com/a"), pageview(pixel, url="https://example.com/b")])

    def database_down(**_):
        raise OperationalError("the database went away")

    real = services.events_record
    monkeypatch.setattr(services, "events_record", database_down)
    assert buffered.flush() == 0
    monkeypatch.setattr(services, "events_record", real)
    beacon(Client(), pageview(pixel, url="https://example.com/c"))
    assert buffered.flush() == 3
    assert list(Event.objects.filter(pixel_id=pixel.pk).order_by("received_at", "id").values_list("url", flat=True)) == [
        "https://example.com/a",
        "https://example.com/b",
        "https://example.com/c",
    ]


def test_past_the_limit_requests_help_write_and_only_a_refusing_database_drops_events(tenant, buffered, settings, monkeypatch):
    settings.PIXEL_BUFFER_MS = 60_000
    settings.PIXEL_BUFFER_MAX_EVENTS = 5
    pixel = make_pixel(tenant)
    beacon(Client(), [pageview(pixel, url=f"https://example.com/{n}") for n in range(8)])
    assert Event.objects.filter(pixel_id=pixel.pk).count() == 8, "the request wrote them itself"

    def database_down(**_):
        raise OperationalError("the database went away")

    real = services.events_record
    monkeypatch.setattr(services, "events_record", database_down)
    beacon(Client(), [pageview(pixel, url=f"https://example.com/late/{n}") for n in range(8)])
    assert buffered.dropped == 3
    monkeypatch.setattr(services, "events_record", real)
    assert buffered.flush() == 5


def test_events_of_a_pixel_deleted_before_the_write_are_not_written(tenant, buffered, settings):
    settings.PIXEL_BUFFER_MS = 60_000
    pixel = make_pixel(tenant)
    beacon(Client(), pageview(pixel))
    services.pixel_delete(workspace=tenant.workspace, pixel_id=pixel.pk)
    assert buffered.flush() == 0
    assert not Event.objects.filter(pixel_id=pixel.pk).exists() and not Visitor.objects.exists()


def test_a_pixel_change_is_seen_by_the_next_beacon_of_this_process(tenant):
    pixel = make_pixel(tenant)
    assert beacon(Client(), pageview(pixel)).status_code == 202
    assert collect.site_keys.lookup({pixel.site_key}, load=lambda keys: {}, ttl=60) == {pixel.site_key: (pixel.pk, "example.com")}
    services.pixel_update(workspace=tenant.workspace, pixel_id=pixel.pk, domain="example.org")
    beacon(Client(), pageview(pixel, visitor="after"), origin="https://example.com")
    assert not Visitor.objects.filter(key="after").exists(), "the old domain no longer counts"
    beacon(Client(), pageview(pixel, visitor="after", url="https://example.org/"), origin="https://example.org")
    assert Visitor.objects.filter(key="after").exists()
