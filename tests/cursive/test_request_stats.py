"""Request statistics: counted in memory, written by one upsert that adds to what is already stored."""

import pytest

from cursive.models import RequestStat
from cursive.observability import RequestStats

pytestmark = pytest.mark.django_db


def test_flush_upserts_and_adds_to_stored_counts():
    stats = RequestStats(flush_every_seconds=float("inf"), flush_every_requests=10**9)
    stats.add("leads:list", "GET", 200, 10.0)
    stats.add("leads:list", "GET", 200, 30.0)
    stats.add("leads:list", "GET", 500, 5.0)
    assert not RequestStat.objects.exists()
    stats.flush()
    stats.add("leads:list", "GET", 200, 50.0)
    stats.flush()
    ok = RequestStat.objects.get(route="leads:list", status=200)
    assert (ok.count, ok.total_ms, ok.max_ms) == (3, 90.0, 50.0)
    assert RequestStat.objects.get(route="leads:list", status=500).count == 1


def test_flushes_by_itself_after_enough_requests():
    stats = RequestStats(flush_every_seconds=float("inf"), flush_every_requests=3)
    stats.add("health", "GET", 200, 1.0)
    stats.add("health", "GET", 200, 1.0)
    assert not RequestStat.objects.exists()
    stats.add("health", "GET", 200, 1.0)
    assert RequestStat.objects.get(route="health").count == 3


def test_flushes_by_itself_when_the_interval_has_passed():
    stats = RequestStats(flush_every_seconds=0, flush_every_requests=10**9)
    stats.add("health", "GET", 200, 1.0)
    assert RequestStat.objects.get(route="health").count == 1


def test_middleware_records_the_route_of_each_request(client):
    from cursive.observability import request_stats

    health = client.get("/health")
    client.get("/no-such-page/")
    request_stats.flush()
    routes = dict(RequestStat.objects.values_list("route", "status"))
    assert routes.get("unmatched") == 404
    assert routes.get("health") == health.status_code
