from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.monitoring import monitoring_snapshot
from visitors.models import Pixel

from .pixel_data import backdate, identify, make_pixel, record

pytestmark = pytest.mark.django_db

SITE = "https://example.com"


@pytest.fixture
def staff_client(client):
    from accounts.services import user_create

    client.force_login(user_create(email="ops@cursive.test", password="ops-password-123", is_staff=True))
    return client


def test_collection_rate_over_the_last_minute_and_hour_across_all_pixels(tenant, other_tenant):
    ours, theirs = make_pixel(tenant.workspace), make_pixel(other_tenant.workspace)
    idle = make_pixel(tenant.workspace, "a.example")
    record(ours, "now", *[f"{SITE}/{i}" for i in range(30)])
    record(theirs, "now", *[f"{SITE}/{i}" for i in range(30)])
    record(ours, "earlier", *[f"{SITE}/{i}" for i in range(36)])
    backdate(ours, "earlier", by=timedelta(minutes=30))
    record(ours, "yesterday", f"{SITE}/old")
    backdate(ours, "yesterday", by=timedelta(hours=2))
    record(idle, "long-ago", f"{SITE}/old", f"{SITE}/older")
    backdate(idle, "long-ago", by=timedelta(hours=3))
    Pixel.objects.filter(pk=idle.pk).update(last_event_at=timezone.now() - timedelta(hours=3))

    pixel = monitoring_snapshot()["pixel"]
    assert pixel["events_last_minute"] == 60 and pixel["per_second_last_minute"] == 1.0
    assert pixel["events_last_hour"] == 96 and pixel["per_second_last_hour"] == 0.03, "96 / 3600"
    assert pixel["active_pixels"] == 2


def test_no_traffic_is_zero_not_an_error():
    pixel = monitoring_snapshot()["pixel"]
    assert pixel["events_last_hour"] == 0 and pixel["per_second_last_minute"] == 0
    assert pixel["lag"] == {"identified": 0, "median_ms": None, "p95_ms": None} and not pixel["lag_warning"]


def test_identification_lag_median_and_p95_over_the_last_hour(tenant):
    pixel = make_pixel(tenant.workspace)
    for i in range(1, 21):
        record(pixel, f"v{i}", f"{SITE}/")
        identify(pixel, f"v{i}", by="form" if i % 2 else "ip", lag_ms=i * 1000)
    record(pixel, "old", f"{SITE}/")
    identify(pixel, "old", by="form", lag_ms=900_000, at=timezone.now() - timedelta(minutes=61))
    record(pixel, "unmeasured", f"{SITE}/")
    identify(pixel, "unmeasured", by="identify", lag_ms=None)
    record(pixel, "anonymous", f"{SITE}/")

    pixel_health = monitoring_snapshot()["pixel"]
    assert pixel_health["lag"] == {"identified": 21, "median_ms": 10_500, "p95_ms": 19_050}, "1..20 s, interpolated"
    assert not pixel_health["lag_warning"]


def test_monitoring_page_shows_pixel_health_and_warns_when_identification_lags(staff_client, tenant):
    pixel = make_pixel(tenant.workspace)
    for i in range(10):
        record(pixel, f"v{i}", f"{SITE}/")
        identify(pixel, f"v{i}", by="form", lag_ms=2000)
    page = staff_client.get("/admin/monitoring/").content.decode()
    assert "0.17 events/s over the last minute (10)" in page
    assert 'data-testid="pixel-lag">median 2000 ms · p95 2000 ms · 10 identified<' in page
    assert 'data-testid="pixel-lag-warning"' not in page

    record(pixel, "slow", f"{SITE}/")
    identify(pixel, "slow", by="identify", lag_ms=600_000)
    health = monitoring_snapshot()["pixel"]
    assert health["lag"]["p95_ms"] == 301_000, "2 s + 0.5 of the way to 600 s"
    assert health["lag_warning"]
    page = staff_client.get("/admin/monitoring/").content.decode()
    assert 'data-testid="pixel-lag-warning"' in page and "over 60000 ms" in page


def test_the_warning_starts_above_a_minute(tenant):
    pixel = make_pixel(tenant.workspace)
    record(pixel, "a", f"{SITE}/")
    identify(pixel, "a", by="form", lag_ms=60_000)
    assert not monitoring_snapshot()["pixel"]["lag_warning"], "exactly 60 s"
    record(pixel, "b", f"{SITE}/")
    identify(pixel, "b", by="form", lag_ms=60_002)
    health = monitoring_snapshot()["pixel"]
    assert health["lag"]["p95_ms"] == 60_002 and health["lag_warning"]
