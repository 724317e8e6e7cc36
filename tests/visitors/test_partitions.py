import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from cursive import retention
from cursive.schedules import SCHEDULES
from tests.locking import held_elsewhere
from visitors import partitions, tasks
from visitors.models import Event

from .conftest import make_pixel, make_visitor

pytestmark = pytest.mark.django_db


def _existing() -> dict[dt.date, str]:
    with connection.cursor() as cursor:
        return partitions.existing_partitions(cursor)


def _events_at(pixel, moments):
    Event.objects.bulk_create(
        [
            Event(received_at=at, pixel_id=pixel.pk, type="pageview", url=f"https://example.com/{i}")
            for i, at in enumerate(moments)
        ]
    )


def test_the_task_is_a_daily_schedule():
    assert SCHEDULES.get("pixel event partitions").func == "visitors.tasks.event_partitions_ensure"


def test_partitions_for_this_month_and_the_next_two_exist_after_the_task_runs():
    this_month = partitions.month_start(timezone.now())
    coming = [partitions.add_months(this_month, n) for n in (1, 2)]
    with connection.cursor() as cursor:
        for month in coming:
            cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(month)}")
    assert not set(coming) & set(_existing())

    tasks.event_partitions_ensure()

    assert {this_month, *coming} <= set(_existing())


def test_dropping_an_old_partition_removes_only_its_months_events(tenant, settings):
    settings.PIXEL_EVENT_RETENTION_MONTHS = 13
    pixel = make_pixel(tenant)
    visitor = make_visitor(pixel)
    this_month = partitions.month_start(timezone.now())
    expired, kept = partitions.add_months(this_month, -14), partitions.add_months(this_month, -13)
    with connection.cursor() as cursor:
        partitions.create_partition(cursor, expired)
        partitions.create_partition(cursor, kept)

    def middle_of(month):
        return dt.datetime(month.year, month.month, 15, tzinfo=dt.UTC)

    _events_at(pixel, [middle_of(expired), middle_of(expired)])
    _events_at(pixel, [dt.datetime(kept.year, kept.month, 1, tzinfo=dt.UTC)])
    assert Event.objects.filter(pixel_id=pixel.pk).count() == 4

    assert retention.rule_apply(name="pixel event partitions") == 1

    assert expired not in _existing() and kept in _existing() and this_month in _existing()
    remaining = Event.objects.filter(pixel_id=pixel.pk)
    assert sorted(partitions.month_start(e.received_at) for e in remaining) == [kept, this_month]
    assert tenant.api().get(f"/api/v1/visitors/{visitor.pk}").json()["events"][0]["url"] == "https://example.com/"


def test_an_event_is_stored_even_when_its_months_partition_was_never_created(tenant, client):
    pixel = make_pixel(tenant)
    this_month = partitions.month_start(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {partitions.partition_name(this_month)}")
    from visitors import services

    services._months_ready.clear()
    make_visitor(pixel)
    assert this_month in _existing()
    assert Event.objects.filter(pixel_id=pixel.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_partition_in_use_is_not_waited_for_and_goes_at_the_next_run(settings, monkeypatch):
    settings.PIXEL_EVENT_RETENTION_MONTHS = 13
    monkeypatch.setattr(partitions, "DROP_LOCK_TIMEOUT_MS", 100)
    expired = partitions.add_months(partitions.month_start(timezone.now()), -14)
    with connection.cursor() as cursor:
        partitions.create_partition(cursor, expired)

    def long_report() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {partitions.partition_name(expired)}")

    with held_elsewhere(long_report):
        removed = retention.retention_run()
        assert removed["pixel event partitions"] == 0 and "rate-limit counters" in removed
        assert expired in _existing()
    assert retention.rule_apply(name="pixel event partitions") == 1
    assert expired not in _existing()
