"""Send windows in the recipient's time zone, with weekends, public holidays and DST days."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from accounts.models import Workspace
from leads.models import Lead
from sequences import schedule
from sequences.models import Sequence

NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_ONLY = ["mon", "tue", "wed", "thu", "fri"]
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def at(zone, *parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=zone)


def office_hours(after, zone, **options):
    options = {"days": WEEKDAYS_ONLY, "start": dt.time(8), "end": dt.time(18), **options}
    return schedule.next_send_time(after=after, zone=zone, **options)


def sequence(*, workspace_zone="America/New_York", **options) -> Sequence:
    return Sequence(workspace=Workspace(name="W", time_zone=workspace_zone), name="S", **options)


def lead(state="", country="") -> Lead:
    return Lead(state=state, country=country)


def test_a_california_lead_at_7_pacific_on_a_monday_is_due_at_8_pacific():
    zone = schedule.recipient_zone(state="CA", country="US", fallback="America/New_York")
    assert zone == LOS_ANGELES
    due = office_hours(at(LOS_ANGELES, 2026, 3, 2, 7, 0), zone)
    assert due == at(LOS_ANGELES, 2026, 3, 2, 8, 0)
    assert due.tzinfo == dt.UTC


def test_a_new_york_lead_on_a_friday_at_19_is_due_monday_at_8():
    zone = schedule.recipient_zone(state="New York", country="US", fallback="America/Los_Angeles")
    assert office_hours(at(NEW_YORK, 2026, 2, 6, 19, 0), zone) == at(NEW_YORK, 2026, 2, 9, 8, 0)


def test_inside_the_window_the_lead_is_due_at_once_and_the_end_is_excluded():
    inside = at(NEW_YORK, 2026, 2, 4, 12, 34, 56)
    assert office_hours(inside, NEW_YORK) == inside
    assert office_hours(at(NEW_YORK, 2026, 2, 4, 8, 0), NEW_YORK) == at(NEW_YORK, 2026, 2, 4, 8, 0)
    assert office_hours(at(NEW_YORK, 2026, 2, 4, 18, 0), NEW_YORK) == at(NEW_YORK, 2026, 2, 5, 8, 0)


def test_saturday_and_sunday_are_skipped_unless_the_window_includes_them():
    assert office_hours(at(NEW_YORK, 2026, 2, 7, 10, 0), NEW_YORK) == at(NEW_YORK, 2026, 2, 9, 8, 0)
    assert office_hours(at(NEW_YORK, 2026, 2, 8, 23, 0), NEW_YORK) == at(NEW_YORK, 2026, 2, 9, 8, 0)
    saturday = at(NEW_YORK, 2026, 2, 7, 10, 0)
    assert office_hours(saturday, NEW_YORK, days=EVERY_DAY) == saturday
    assert office_hours(saturday, NEW_YORK, days=["wed"]) == at(NEW_YORK, 2026, 2, 11, 8, 0)


def test_the_weekday_is_the_recipients_own_not_utcs():
    # Friday 22:00 in Los Angeles is already Saturday in UTC: still Friday evening for the recipient.
    friday_night = at(LOS_ANGELES, 2026, 2, 6, 17, 0)
    assert office_hours(friday_night, LOS_ANGELES) == friday_night


def test_a_lead_with_no_state_or_country_uses_the_workspace_zone():
    assert schedule.recipient_zone(state="", country="", fallback="Europe/Berlin") == BERLIN
    assert schedule.recipient_zone(state="Nowhere", country="", fallback="Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
    due = schedule.lead_send_time(
        sequence=sequence(workspace_zone="Europe/Berlin"), lead=lead(), after=at(BERLIN, 2026, 2, 6, 19, 0)
    )
    assert due == at(BERLIN, 2026, 2, 9, 8, 0)


def test_a_country_alone_gives_its_main_zone_unless_the_workspace_is_in_that_country():
    assert schedule.recipient_zone(state="", country="US", fallback="Europe/Berlin") == NEW_YORK
    assert schedule.recipient_zone(state="", country="us", fallback="America/Los_Angeles") == LOS_ANGELES
    assert schedule.recipient_zone(state="", country="BR", fallback="Europe/Berlin") == ZoneInfo("America/Sao_Paulo")
    assert schedule.recipient_zone(state="", country="RU", fallback="Europe/Berlin") == ZoneInfo("Europe/Moscow")
    assert schedule.recipient_zone(state="", country="CA", fallback="Europe/Berlin") == ZoneInfo("America/Toronto")
    assert schedule.recipient_zone(state="", country="AU", fallback="Europe/Berlin") == ZoneInfo("Australia/Sydney")
    assert schedule.recipient_zone(state="", country="JP", fallback="Europe/Berlin") == ZoneInfo("Asia/Tokyo")
    assert schedule.recipient_zone(state="", country="ZZ", fallback="Europe/Berlin") == BERLIN


def test_a_german_lead_is_mailed_in_berlin_time():
    zone = schedule.recipient_zone(state="", country="DE", fallback="America/New_York")
    assert zone == BERLIN
    due = schedule.lead_send_time(sequence=sequence(), lead=lead(country="DE"), after=at(NEW_YORK, 2026, 2, 9, 1, 0))
    assert due == at(BERLIN, 2026, 2, 9, 8, 0) == dt.datetime(2026, 2, 9, 7, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("state", "country", "zone"),
    [
        ("TX", "US", "America/Chicago"),
        ("Texas", "", "America/Chicago"),
        ("AZ", "US", "America/Phoenix"),
        ("IN", "US", "America/Indiana/Indianapolis"),
        ("indiana", "US", "America/Indiana/Indianapolis"),
        ("DC", "US", "America/New_York"),
        ("Washington, D.C.", "US", "America/New_York"),
        ("HI", "US", "Pacific/Honolulu"),
        ("AK", "US", "America/Anchorage"),
        ("PR", "US", "America/Puerto_Rico"),
        ("Guam", "US", "Pacific/Guam"),
        ("WA", "", "America/Los_Angeles"),
        ("WA", "AU", "Australia/Perth"),
        ("BC", "CA", "America/Vancouver"),
        ("Québec", "CA", "America/Toronto"),
        ("Saskatchewan", "", "America/Regina"),
        ("NSW", "AU", "Australia/Sydney"),
        ("Queensland", "AU", "Australia/Brisbane"),
        ("Victoria", "", "Australia/Melbourne"),
        ("", "PR", "America/Puerto_Rico"),
    ],
)
def test_states_provinces_and_territories_give_their_main_zone(state, country, zone):
    assert schedule.recipient_zone(state=state, country=country, fallback="Europe/Berlin") == ZoneInfo(zone)


def test_indiana_keeps_eastern_time_and_arizona_has_no_dst():
    summer_monday = at(dt.UTC, 2026, 7, 6, 0, 0)
    indiana = office_hours(summer_monday, schedule.recipient_zone(state="IN", country="US", fallback="UTC"))
    assert indiana == office_hours(summer_monday, NEW_YORK)
    arizona = office_hours(summer_monday, schedule.recipient_zone(state="AZ", country="US", fallback="UTC"))
    assert arizona == dt.datetime(2026, 7, 6, 15, 0, tzinfo=dt.UTC)  # 08:00 MST all year


def test_every_us_state_dc_and_the_territories_are_known():
    codes = {code for code, _name, _zone in schedule.US_STATES}
    assert len(codes) == 56
    for code, name, zone in schedule.US_STATES:
        for written in (code, code.lower(), name, name.upper()):
            assert schedule.recipient_zone(state=written, country="US", fallback="UTC") == ZoneInfo(zone)


def test_every_country_has_a_zone_of_its_own():
    assert len(schedule.COUNTRY_MAIN_ZONE) >= 245
    for country, zone in schedule.COUNTRY_MAIN_ZONE.items():
        assert zone in schedule.COUNTRY_ZONES[country], country
        assert schedule.recipient_zone(state="", country=country, fallback="Etc/UTC") == ZoneInfo(zone)


def test_skip_holidays_skips_july_4th_and_christmas_in_the_us():
    new_york = schedule.recipient(state="NY", country="US", fallback="UTC")
    holidays = {"holidays_country": new_york.country, "holidays_subdivision": new_york.subdivision}
    thursday_evening = at(NEW_YORK, 2025, 7, 3, 19, 0)
    assert office_hours(thursday_evening, NEW_YORK) == at(NEW_YORK, 2025, 7, 4, 8, 0)
    assert office_hours(thursday_evening, NEW_YORK, **holidays) == at(NEW_YORK, 2025, 7, 7, 8, 0)
    christmas_eve = at(NEW_YORK, 2025, 12, 24, 19, 0)
    assert office_hours(christmas_eve, NEW_YORK, **holidays) == at(NEW_YORK, 2025, 12, 26, 8, 0)


def test_holidays_are_the_recipients_country_and_state():
    # 2 March is Texas Independence Day; New York works.
    monday = at(dt.UTC, 2026, 3, 2, 0, 0)
    texas = schedule.recipient(state="TX", country="US", fallback="UTC")
    assert office_hours(monday, texas.zone, holidays_country="US", holidays_subdivision="TX").date() == dt.date(2026, 3, 3)
    assert office_hours(monday, NEW_YORK, holidays_country="US", holidays_subdivision="NY").date() == dt.date(2026, 3, 2)
    # German Unity Day, a Monday in 2028, is not an American holiday.
    assert office_hours(at(BERLIN, 2028, 10, 3, 7, 0), BERLIN, holidays_country="DE") == at(BERLIN, 2028, 10, 4, 8, 0)
    # A country or subdivision the holidays package does not know has no holidays (or the country's own).
    assert office_hours(at(BERLIN, 2028, 10, 3, 7, 0), BERLIN, holidays_country="ZZ") == at(BERLIN, 2028, 10, 3, 8, 0)
    unknown_state = office_hours(at(NEW_YORK, 2025, 7, 3, 19, 0), NEW_YORK, holidays_country="US", holidays_subdivision="ZZ")
    assert unknown_state == at(NEW_YORK, 2025, 7, 7, 8, 0)


def test_a_sequence_skips_holidays_only_when_asked():
    christmas_eve = at(NEW_YORK, 2025, 12, 24, 19, 0)
    ny_lead = lead(state="NY", country="US")
    assert schedule.lead_send_time(sequence=sequence(), lead=ny_lead, after=christmas_eve) == at(NEW_YORK, 2025, 12, 25, 8, 0)
    skipping = sequence(skip_holidays=True)
    assert schedule.lead_send_time(sequence=skipping, lead=ny_lead, after=christmas_eve) == at(NEW_YORK, 2025, 12, 26, 8, 0)


def test_dst_start_day_moves_a_missing_window_time_forward_and_keeps_local_8():
    # 8 March 2026: clocks in New York jump from 02:00 to 03:00.
    saturday_evening = at(NEW_YORK, 2026, 3, 7, 20, 0)
    early = office_hours(saturday_evening, NEW_YORK, days=["sun"], start=dt.time(2, 30), end=dt.time(5))
    assert early == dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC)
    assert early.astimezone(NEW_YORK).time() == dt.time(3, 0)
    sunday = office_hours(saturday_evening, NEW_YORK, days=["sun"])
    assert sunday == dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC)  # 08:00 EDT
    assert office_hours(at(NEW_YORK, 2026, 3, 7, 9, 0), NEW_YORK, days=["sat"]) == dt.datetime(2026, 3, 7, 14, 0, tzinfo=dt.UTC)


def test_dst_end_day_uses_the_first_of_the_repeated_hours_and_keeps_local_8():
    # 1 November 2026: clocks in New York fall back from 02:00 to 01:00.
    saturday_evening = at(NEW_YORK, 2026, 10, 31, 20, 0)
    repeated = office_hours(saturday_evening, NEW_YORK, days=["sun"], start=dt.time(1, 30), end=dt.time(5))
    assert repeated == dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)  # 01:30 EDT, the first of the two
    assert office_hours(saturday_evening, NEW_YORK, days=["sun"]) == dt.datetime(2026, 11, 1, 13, 0, tzinfo=dt.UTC)
    # Europe changes a week earlier: Berlin's Monday 08:00 is 07:00 UTC again from 26 October.
    assert office_hours(at(BERLIN, 2026, 10, 24, 12, 0), BERLIN) == dt.datetime(2026, 10, 26, 7, 0, tzinfo=dt.UTC)


def test_a_window_with_no_days_or_the_wrong_way_round_is_refused():
    with pytest.raises(ValueError, match="at least one day"):
        office_hours(at(NEW_YORK, 2026, 2, 4, 9, 0), NEW_YORK, days=[])
    with pytest.raises(ValueError, match="start before"):
        office_hours(at(NEW_YORK, 2026, 2, 4, 9, 0), NEW_YORK, start=dt.time(18), end=dt.time(8))
    with pytest.raises(ValueError, match="aware"):
        office_hours(dt.datetime(2026, 2, 4, 9, 0), NEW_YORK)


def test_many_leads_at_once_get_the_same_times_as_one_by_one():
    seq = sequence(workspace_zone="America/Chicago", skip_holidays=True, send_days=WEEKDAYS_ONLY)
    leads = [
        lead("CA", "US"),
        lead("NY", "US"),
        lead("", "US"),
        lead("", ""),
        lead("", "DE"),
        lead("NSW", "AU"),
        lead("CA", "US"),
        lead("Ontario", "CA"),
    ]
    after = at(dt.UTC, 2025, 12, 25, 5, 0)
    expected = [schedule.lead_send_time(sequence=seq, lead=one, after=after) for one in leads]
    assert schedule.leads_send_times(sequence=seq, leads=leads, after=after) == expected
    chicago = at(ZoneInfo("America/Chicago"), 2025, 12, 26, 8, 0)
    assert expected == [
        at(LOS_ANGELES, 2025, 12, 26, 8, 0),
        at(NEW_YORK, 2025, 12, 26, 8, 0),
        chicago,
        chicago,
        at(BERLIN, 2025, 12, 29, 8, 0),  # the 25th and 26th are both holidays in Germany
        at(ZoneInfo("Australia/Sydney"), 2025, 12, 29, 8, 0),  # Boxing Day, then the weekend
        at(LOS_ANGELES, 2025, 12, 26, 8, 0),
        at(ZoneInfo("America/Toronto"), 2025, 12, 29, 8, 0),  # Boxing Day in Ontario
    ]
