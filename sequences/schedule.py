"""When a sequence may mail a lead: in the recipient's time zone (from their state or country, else the
workspace's), on the sequence's send days and hours, skipping the recipient's public holidays when asked.

The enrolment calls this for every new lead and the sender for every later step, so it stays pure and cheap:
the zone tables are built once at import, holiday calendars are cached per country, subdivision and year, and
leads that share a place share one answer."""

from __future__ import annotations

import datetime as dt
import unicodedata
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import holidays as holiday_calendars

from .models import WEEKDAYS

UTC = dt.UTC
ONE_DAY = dt.timedelta(days=1)
# A window open one day a week behind a run of holidays is still found; nothing allowed in a year is an error.
MAX_DAYS_AHEAD = 400


def _key(text: str) -> str:
    """A place name or code as the tables hold it: no accents, case, dots, commas or extra spaces."""
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return " ".join(plain.replace(".", "").replace(",", " ").casefold().split())


# --- Where a recipient is -------------------------------------------------------------------------------------

# (code, name, main zone): the zone most of the state's people live in.
US_STATES = (
    ("AL", "Alabama", "America/Chicago"),
    ("AK", "Alaska", "America/Anchorage"),
    ("AZ", "Arizona", "America/Phoenix"),
    ("AR", "Arkansas", "America/Chicago"),
    ("CA", "California", "America/Los_Angeles"),
    ("CO", "Colorado", "America/Denver"),
    ("CT", "Connecticut", "America/New_York"),
    ("DE", "Delaware", "America/New_York"),
    ("DC", "District of Columbia", "America/New_York"),
    ("FL", "Florida", "America/New_York"),
    ("GA", "Georgia", "America/New_York"),
    ("HI", "Hawaii", "Pacific/Honolulu"),
    ("ID", "Idaho", "America/Boise"),
    ("IL", "Illinois", "America/Chicago"),
    ("IN", "Indiana", "America/Indiana/Indianapolis"),
    ("IA", "Iowa", "America/Chicago"),
    ("KS", "Kansas", "America/Chicago"),
    ("KY", "Kentucky", "America/New_York"),
    ("LA", "Louisiana", "America/Chicago"),
    ("ME", "Maine", "America/New_York"),
    ("MD", "Maryland", "America/New_York"),
    ("MA", "Massachusetts", "America/New_York"),
    ("MI", "Michigan", "America/Detroit"),
    ("MN", "Minnesota", "America/Chicago"),
    ("MS", "Mississippi", "America/Chicago"),
    ("MO", "Missouri", "America/Chicago"),
    ("MT", "Montana", "America/Denver"),
    ("NE", "Nebraska", "America/Chicago"),
    ("NV", "Nevada", "America/Los_Angeles"),
    ("NH", "New Hampshire", "America/New_York"),
    ("NJ", "New Jersey", "America/New_York"),
    ("NM", "New Mexico", "America/Denver"),
    ("NY", "New York", "America/New_York"),
    ("NC", "North Carolina", "America/New_York"),
    ("ND", "North Dakota", "America/Chicago"),
    ("OH", "Ohio", "America/New_York"),
    ("OK", "Oklahoma", "America/Chicago"),
    ("OR", "Oregon", "America/Los_Angeles"),
    ("PA", "Pennsylvania", "America/New_York"),
    ("RI", "Rhode Island", "America/New_York"),
    ("SC", "South Carolina", "America/New_York"),
    ("SD", "South Dakota", "America/Chicago"),
    ("TN", "Tennessee", "America/Chicago"),
    ("TX", "Texas", "America/Chicago"),
    ("UT", "Utah", "America/Denver"),
    ("VT", "Vermont", "America/New_York"),
    ("VA", "Virginia", "America/New_York"),
    ("WA", "Washington", "America/Los_Angeles"),
    ("WV", "West Virginia", "America/New_York"),
    ("WI", "Wisconsin", "America/Chicago"),
    ("WY", "Wyoming", "America/Denver"),
    ("PR", "Puerto Rico", "America/Puerto_Rico"),
    ("GU", "Guam", "Pacific/Guam"),
    ("VI", "U.S. Virgin Islands", "America/St_Thomas"),
    ("AS", "American Samoa", "Pacific/Pago_Pago"),
    ("MP", "Northern Mariana Islands", "Pacific/Saipan"),
)
CA_PROVINCES = (
    ("AB", "Alberta", "America/Edmonton"),
    ("BC", "British Columbia", "America/Vancouver"),
    ("MB", "Manitoba", "America/Winnipeg"),
    ("NB", "New Brunswick", "America/Moncton"),
    ("NL", "Newfoundland and Labrador", "America/St_Johns"),
    ("NS", "Nova Scotia", "America/Halifax"),
    ("NT", "Northwest Territories", "America/Edmonton"),
    ("NU", "Nunavut", "America/Iqaluit"),
    ("ON", "Ontario", "America/Toronto"),
    ("PE", "Prince Edward Island", "America/Halifax"),
    ("QC", "Quebec", "America/Toronto"),
    ("SK", "Saskatchewan", "America/Regina"),
    ("YT", "Yukon", "America/Whitehorse"),
)
AU_STATES = (
    ("ACT", "Australian Capital Territory", "Australia/Sydney"),
    ("NSW", "New South Wales", "Australia/Sydney"),
    ("NT", "Northern Territory", "Australia/Darwin"),
    ("QLD", "Queensland", "Australia/Brisbane"),
    ("SA", "South Australia", "Australia/Adelaide"),
    ("TAS", "Tasmania", "Australia/Hobart"),
    ("VIC", "Victoria", "Australia/Melbourne"),
    ("WA", "Western Australia", "Australia/Perth"),
)
# Other names people write for the same places.
ALIASES = {
    "US": {"washington dc": "DC", "virgin islands": "VI", "us virgin islands": "VI"},
    "CA": {"newfoundland": "NL", "labrador": "NL", "yukon territory": "YT", "pei": "PE"},
    "AU": {},
}
SUBDIVISIONS = {"US": US_STATES, "CA": CA_PROVINCES, "AU": AU_STATES}
# A state without a country is looked up in this order (most leads are American; "WA" is Washington).
STATE_ONLY_ORDER = ("US", "CA", "AU")

# zone.tab lists a multi-zone country's zones from east to west or north to south, not most-populous first.
MAIN_ZONE_OVERRIDES = {
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "FM": "Pacific/Pohnpei",
    "PS": "Asia/Hebron",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "UM": "Pacific/Wake",
    "UZ": "Asia/Tashkent",
}


def _zone_tab() -> str:
    """zone.tab from where zoneinfo itself reads zones: the system's TZPATH first, then the tzdata package."""
    for base in zoneinfo.TZPATH:
        path = Path(base) / "zone.tab"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")


def _country_tables() -> tuple[dict[str, str], dict[str, frozenset[str]], dict[str, str]]:
    """Each country's main zone, each country's zones, and each zone's country."""
    zones: dict[str, list[str]] = {}
    for line in _zone_tab().splitlines():
        if line and not line.startswith("#"):
            country, _coordinates, name = line.split("\t")[:3]
            zones.setdefault(country, []).append(name)
    main = {country: names[0] for country, names in zones.items()} | MAIN_ZONE_OVERRIDES
    country_of = {name: country for country, names in zones.items() for name in names}
    return main, {country: frozenset(names) for country, names in zones.items()}, country_of


COUNTRY_MAIN_ZONE, COUNTRY_ZONES, ZONE_COUNTRY = _country_tables()
_STATES = {
    country: {_key(code): (code, zone) for code, _name, zone in rows}
    | {_key(name): (code, zone) for code, name, zone in rows}
    | {alias: (code, next(zone for c, _n, zone in rows if c == code)) for alias, code in ALIASES[country].items()}
    for country, rows in SUBDIVISIONS.items()
}


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a recipient is, as far as sending times go: their zone and whose public holidays they keep."""

    zone: zoneinfo.ZoneInfo
    country: str | None
    subdivision: str | None


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@lru_cache(maxsize=4096)
def recipient(*, state: str, country: str, fallback: str | zoneinfo.ZoneInfo) -> Recipient:
    """A recipient's zone and holidays from their state (US states and territories, Canadian provinces and
    Australian states, by code or name) or country (ISO 3166 alpha-2). A country alone gives its main zone,
    unless the workspace's zone (`fallback`) is one of that country's own: an American workspace on Pacific
    time mailing Americans of unknown state keeps Pacific time. Nothing known gives the workspace's zone."""
    fallback_zone = _zone(fallback) if isinstance(fallback, str) else fallback
    country = (country or "").strip().upper()
    state_key = _key(state)
    if state_key:
        for candidate in (country,) if country else STATE_ONLY_ORDER:
            found = _STATES.get(candidate, {}).get(state_key)
            if found:
                code, zone = found
                return Recipient(zone=_zone(zone), country=candidate, subdivision=code)
    if country in COUNTRY_MAIN_ZONE:
        if fallback_zone.key in COUNTRY_ZONES[country]:
            return Recipient(zone=fallback_zone, country=country, subdivision=None)
        return Recipient(zone=_zone(COUNTRY_MAIN_ZONE[country]), country=country, subdivision=None)
    return Recipient(zone=fallback_zone, country=ZONE_COUNTRY.get(fallback_zone.key), subdivision=None)


def recipient_zone(*, state: str, country: str, fallback: str | zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    return recipient(state=state, country=country, fallback=fallback).zone


# --- When they may be mailed -----------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    """The public holidays (observed days included) of a country or one of its subdivisions in a year; none
    for countries the `holidays` package does not know, the country's own for subdivisions it does not."""
    try:
        return frozenset(holiday_calendars.country_holidays(country, subdiv=subdivision, years=year))
    except NotImplementedError:
        if subdivision:
            return _holidays(country, None, year)
        return frozenset()


@lru_cache(maxsize=128)
def _weekdays(days: tuple[str, ...]) -> frozenset[int]:
    allowed = frozenset(WEEKDAYS.index(day) for day in days if day in WEEKDAYS)
    if not allowed:
        raise ValueError("A send window needs at least one day.")
    return allowed


def _instant(day: dt.date, at: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant the wall clock of `zone` reads `at` on `day` (the earlier of a repeated hour); for a
    time skipped by a DST change, the instant the clocks jump (the window opens as soon as it exists)."""
    wall = dt.datetime.combine(day, at)
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In the gap: fold=1 reads the wall time with the offset after the change, which lands before the change;
    # fold=0 with the offset before it, which lands after. The change is between, on a whole second.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(instant.timestamp())
    after_offset = instant.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if dt.datetime.fromtimestamp(middle, zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return dt.datetime.fromtimestamp(high, UTC)


def next_send_time(
    *,
    after: dt.datetime,
    zone: zoneinfo.ZoneInfo,
    days: list[str] | tuple[str, ...],
    start: dt.time,
    end: dt.time,
    holidays_country: str | None = None,
    holidays_subdivision: str | None = None,
) -> dt.datetime:
    """The first instant at or after `after` (aware) that is inside the window in `zone`: a day among `days`
    ("mon".."sun") that is not a public holiday of `holidays_country` (when given), between `start` (included)
    and `end` (excluded) on that day's wall clock. Returned in UTC."""
    if after.tzinfo is None:
        raise ValueError("`after` must be an aware datetime.")
    if start >= end:
        raise ValueError("A send window must start before it ends.")
    allowed = _weekdays(tuple(days))
    after = after.astimezone(UTC)
    day = after.astimezone(zone).date()
    for _ in range(MAX_DAYS_AHEAD):
        if day.weekday() in allowed and not (
            holidays_country and day in _holidays(holidays_country, holidays_subdivision, day.year)
        ):
            opens = _instant(day, start, zone)
            if after <= opens:
                return opens
            if after < _instant(day, end, zone):
                return after
        day += ONE_DAY
    raise ValueError("The send window allows no day in the coming year.")


def _sequence_window(sequence) -> dict:
    return {"days": tuple(sequence.send_days), "start": sequence.send_start, "end": sequence.send_end}


def _next_for(recipient_: Recipient, *, after: dt.datetime, window: dict, skip_holidays: bool) -> dt.datetime:
    return next_send_time(
        after=after,
        zone=recipient_.zone,
        holidays_country=recipient_.country if skip_holidays else None,
        holidays_subdivision=recipient_.subdivision if skip_holidays else None,
        **window,
    )


def lead_send_time(*, sequence, lead, after: dt.datetime) -> dt.datetime:
    """When `sequence` may next mail `lead`, at or after `after`. Reads `sequence.workspace` (select it with
    the sequence when calling this in a loop)."""
    where = recipient(state=lead.state, country=lead.country, fallback=sequence.workspace.time_zone)
    return _next_for(where, after=after, window=_sequence_window(sequence), skip_holidays=sequence.skip_holidays)


def leads_send_times(*, sequence, leads, after: dt.datetime) -> list[dt.datetime]:
    """`lead_send_time` for many leads at once, in their order: one computation per distinct place, so a
    100,000-lead enrolment costs a dictionary look-up per lead."""
    fallback = sequence.workspace.time_zone
    window = _sequence_window(sequence)
    by_place: dict[tuple[str, str], dt.datetime] = {}
    by_recipient: dict[Recipient, dt.datetime] = {}
    times = []
    for lead in leads:
        place = (lead.state, lead.country)
        due = by_place.get(place)
        if due is None:
            where = recipient(state=lead.state, country=lead.country, fallback=fallback)
            due = by_recipient.get(where)
            if due is None:
                due = by_recipient[where] = _next_for(where, after=after, window=window, skip_holidays=sequence.skip_holidays)
            by_place[place] = due
        times.append(due)
    return times
