"""An enrolment stores each lead's first due time: the next opening of the send window in the lead's zone."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import workspace_time_zone_set
from leads.services import lead_create
from sequences import schedule
from sequences.models import Enrollment
from sequences.services import enrollments_create, sequence_create

pytestmark = pytest.mark.django_db

ZONES = {
    "ca@x.test": ("America/Los_Angeles", {"state": "CA"}),
    "ny@x.test": ("America/New_York", {"state": "New York"}),
    "nostate@x.test": ("America/Chicago", {}),  # the workspace's zone, in the lead's country
    "de@x.test": ("Europe/Berlin", {"country": "DE"}),
    "tx@x.test": ("America/Chicago", {"state": "TX"}),
}


def _opening_hour(now: dt.datetime) -> int:
    """An hour whose first minute is not now in any of the zones, so every lead waits for its own opening."""
    for hour in (3, 5):
        if all(
            now.astimezone(ZoneInfo(zone)).time().replace(second=0, microsecond=0) != dt.time(hour) for zone, _ in ZONES.values()
        ):
            return hour
    raise AssertionError("unreachable: no instant is 03:00 and 05:00 at once in these zones")


def _next_opening(after: dt.datetime, zone: ZoneInfo, hour: int) -> dt.datetime:
    local = after.astimezone(zone)
    opening = dt.datetime.combine(local.date(), dt.time(hour), tzinfo=zone)
    return opening if opening >= after else dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(hour), tzinfo=zone)


def test_enrolment_stores_each_leads_first_due_time_in_its_own_zone_in_one_insert(tenant, mailbox):
    workspace_time_zone_set(workspace=tenant.workspace, actor=tenant.user, time_zone="America/Chicago")
    hour = _opening_hour(timezone.now())
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={
            "name": "Early birds",
            "mailbox_id": mailbox.pk,
            "send_window": {
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "start": f"{hour:02}:00",
                "end": f"{hour:02}:01",
            },
            "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}],
        },
    )
    leads = {
        email: lead_create(workspace=tenant.workspace, data={"email": email, **fields}, source="manual")
        for email, (_zone, fields) in ZONES.items()
    }
    with CaptureQueriesContext(connection) as queries:
        result = enrollments_create(
            workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk for lead in leads.values()]
        )
    assert result.enrolled == len(ZONES)
    assert sum("INSERT INTO sequences_enrollment" in query["sql"] for query in queries.captured_queries) == 1
    enrollments = {row.email: row for row in Enrollment.objects.filter(sequence=sequence)}
    for email, (zone, _fields) in ZONES.items():
        row = enrollments[email]
        assert row.next_send_at == _next_opening(row.enrolled_at, ZoneInfo(zone), hour), email
        assert row.next_send_at.astimezone(ZoneInfo(zone)).time() == dt.time(hour)
        assert row.enrolled_at < row.next_send_at <= row.enrolled_at + dt.timedelta(days=1)
        assert row.next_send_at == schedule.lead_send_time(sequence=sequence, lead=leads[email], after=row.enrolled_at)


def test_a_lead_enrolled_inside_its_window_is_due_at_once(tenant, mailbox):
    sequence = sequence_create(
        workspace=tenant.workspace,
        data={
            "name": "Always open",
            "mailbox_id": mailbox.pk,
            "send_window": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59"},
            "steps": [{"type": "email", "subject": "Hi", "body": "Hello"}],
        },
    )
    lead = lead_create(workspace=tenant.workspace, data={"email": "now@x.test", "state": "HI"}, source="manual")
    enrollments_create(workspace=tenant.workspace, sequence_id=sequence.pk, lead_ids=[lead.pk])
    row = Enrollment.objects.get(sequence=sequence)
    local = row.enrolled_at.astimezone(ZoneInfo("Pacific/Honolulu"))
    if local.time() >= dt.time(23, 59):
        assert row.next_send_at.astimezone(ZoneInfo("Pacific/Honolulu")).time() == dt.time(0, 0)
    else:
        assert row.next_send_at == row.enrolled_at
