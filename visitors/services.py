"""Every write to pixels, visitors and events."""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import logging
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DataError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from psycopg.types.json import Jsonb

from accounts.models import OnboardingStep, User, Workspace
from accounts.services import onboarding_step_complete
from credits.errors import InsufficientCredits
from credits.services import credits_spend
from cursive import ratelimit
from cursive.errors import Conflict, NotFound, RateLimited, ValidationFailed
from cursive.events import emit
from cursive.jobs import job_enqueue
from leads import normalize
from leads.models import Lead, Person
from leads.selectors import erased_hashes
from leads.services import lead_fields_clean, lead_fill_from_person, lead_record_visitor, leads_engagement_set

from . import click_ids, collect, partitions
from .models import Event, IpRange, Pixel, Visitor, VisitorEnrichment

logger = logging.getLogger("cursive.visitors")

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DOMAIN_HELP = "Give the site's host name only, such as example.com (no https://, no path); it covers its subdomains."


def domain_normalize(raw: str) -> str:
    """A host name, lower-cased, internationalised names as punycode; ValidationFailed for anything else."""
    domain = (raw or "").strip().lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    labels = domain.split(".")
    valid = (
        0 < len(domain) <= 253
        and all(_LABEL.match(label) for label in labels)
        and (len(labels) >= 2 or domain == "localhost")
        and not labels[-1].isdigit()
    )
    if valid and domain == "localhost" and settings.PRODUCTION:
        raise ValidationFailed(
            "localhost is accepted only for development.", fields={"domain": ["Use the site's public host name."]}
        )
    if not valid:
        raise ValidationFailed(f"'{(raw or '')[:100]}' is not a host name. {DOMAIN_HELP}", fields={"domain": [DOMAIN_HELP]})
    return domain


def _name(raw: str) -> str:
    name = (raw or "").strip()
    if not name:
        raise ValidationFailed("Give the pixel a name.", fields={"name": ["This field is required."]})
    return name[:120]


def _forget_site(site_key: str) -> None:
    """This process forgets the pixel's cached site at once and again after commit, so no beacon in between
    caches the old one for long; other processes catch up within PIXEL_SITE_CACHE_SECONDS."""
    collect.site_keys.forget(site_key)
    transaction.on_commit(lambda: collect.site_keys.forget(site_key))


def pixel_create(*, workspace: Workspace, name: str, domain: str) -> Pixel:
    return Pixel.objects.create(workspace=workspace, name=_name(name), domain=domain_normalize(domain))


def _pixel_for_update(*, workspace: Workspace, pixel_id) -> Pixel:
    pixel = Pixel.objects.select_for_update().filter(workspace=workspace, pk=pixel_id).first()
    if pixel is None:
        raise NotFound("That pixel does not exist in this workspace.")
    return pixel


NEW_PIXELS_PER_DAY = 3
DAY_SECONDS = 86_400


class PixelLimitReached(RateLimited):
    """The workspace has added its pixels for the day; carries the limit's decision for the 429's headers."""

    def __init__(self, decision: ratelimit.Decision):
        self.decision = decision
        self.retry_after = max(1, math.ceil(decision.reset - time.time()))
        super().__init__(
            f"A workspace can add {NEW_PIXELS_PER_DAY} pixels a day; try again in {self.retry_after // 3600 + 1} hours."
        )

    def headers(self) -> dict[str, str]:
        return {**self.decision.headers(), "Retry-After": str(self.retry_after)}


@transaction.atomic
def pixel_create_within_limit(*, workspace: Workspace, name: str, domain: str) -> tuple[Pixel, ratelimit.Decision]:
    """A new pixel and the day's limit after it. Invalid input raises before anything is counted; over the
    limit, PixelLimitReached rolls the pixel back. The counter's row stays locked until commit, so two
    concurrent requests cannot both take the last place of the day."""
    pixel = pixel_create(workspace=workspace, name=name, domain=domain)
    decision = ratelimit.hit(f"ws:{workspace.pk}:pixel_create", limit=NEW_PIXELS_PER_DAY, window=DAY_SECONDS)
    if not decision.allowed:
        raise PixelLimitReached(decision)
    return pixel, decision


@transaction.atomic
def pixel_update(
    *, workspace: Workspace, pixel_id, name: str | None = None, domain: str | None = None, auto_enrich: bool | None = None
) -> Pixel:
    pixel = _pixel_for_update(workspace=workspace, pixel_id=pixel_id)
    if name is not None:
        pixel.name = _name(name)
    if auto_enrich is not None:
        pixel.auto_enrich = auto_enrich
    if domain is not None and (domain := domain_normalize(domain)) != pixel.domain:
        # Events from the old site no longer count as an installation on the new one.
        pixel.domain = domain
        pixel.status = Pixel.Status.WAITING
    pixel.save(update_fields=["name", "domain", "status", "auto_enrich"])
    _forget_site(pixel.site_key)
    return pixel


@transaction.atomic
def pixel_delete(*, workspace: Workspace, pixel_id) -> None:
    pixel = _pixel_for_update(workspace=workspace, pixel_id=pixel_id)
    Event.objects.filter(pixel_id=pixel.pk).delete()
    pixel.delete()
    _forget_site(pixel.site_key)


_months_ready: set[dt.date] = set()


def _partition_ready(moment: dt.datetime) -> None:
    """The month's partition exists before its first insert, even if the daily schedule has not run for
    months: checked once per process and month."""
    month = partitions.month_start(moment)
    if month in _months_ready:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partitions.partition_name(month)])
        if cursor.fetchone()[0] is None:
            partitions.create_partition(cursor, month)
    _months_ready.add(month)


def event_partitions_ensure(*, today: dt.date, ahead: int, retention_months: int | None) -> tuple[list[str], list[str]]:
    with transaction.atomic(), connection.cursor() as cursor:
        created, dropped = partitions.ensure(cursor, today=today, ahead=ahead, retention_months=retention_months)
    _months_ready.clear()
    return created, dropped


@dataclass
class _VisitorTotals:
    first_seen: dt.datetime
    last_seen: dt.datetime
    ip: str | None = None
    pageviews: int = 0
    engaged_ms: int = 0
    last_url: str | None = None


# `xmax = 0` holds for a row this statement inserted, not for one it updated: a new visitor, whose network
# is worth looking up once.
_VISITOR_UPSERT = """
INSERT INTO visitors_visitor (pixel_id, key, first_seen, last_seen, pageviews, engaged_seconds, last_url)
VALUES {rows}
ON CONFLICT (pixel_id, key) DO UPDATE SET
    last_seen = GREATEST(visitors_visitor.last_seen, EXCLUDED.last_seen),
    pageviews = visitors_visitor.pageviews + EXCLUDED.pageviews,
    engaged_seconds = visitors_visitor.engaged_seconds + EXCLUDED.engaged_seconds,
    last_url = CASE WHEN EXCLUDED.last_url = '' THEN visitors_visitor.last_url ELSE EXCLUDED.last_url END
RETURNING id, pixel_id, key, xmax = 0, email
"""


def _routable(ip: str | None) -> bool:
    """An address some network range could name: not a malformed one, nor loopback (a proxy or a test on the
    same machine, never a company)."""
    try:
        return not ipaddress.ip_address(ip or "").is_loopback
    except ValueError:
        return False


def _identifications(events, visitor_rows: dict, totals: dict[tuple[int, str], _VisitorTotals], now) -> list[dict]:
    """What in these events can identify a visitor, as work for the identification job: an email given by an
    identify call or a form (unless it is the one the visitor already has), a click id, a new visitor's IP."""
    work = []
    for pixel_id, event in events:
        row = visitor_rows.get((pixel_id, event.get("visitor")))
        if row is None:
            continue
        visitor_id, _, known_email = row
        traits = event.get("data") or {}
        at = (event.get("received_at") or now).isoformat()
        if event["type"] in ("identify", "form") and isinstance(traits.get("email"), str):
            if normalize.normalize_email(traits["email"]) != (known_email or ""):
                work.append({"visitor": visitor_id, "method": event["type"], "traits": traits, "at": at})
        elif event["type"] == "pageview" and isinstance(traits.get("click_id"), str):
            work.append({"visitor": visitor_id, "method": "email_click", "click_id": traits["click_id"], "at": at})
    for key, (visitor_id, inserted, _) in visitor_rows.items():
        seen = totals[key]
        if inserted and _routable(seen.ip):
            work.append({"visitor": visitor_id, "method": "ip", "ip": seen.ip, "at": seen.first_seen.isoformat()})
    return work


# 7 parameters a row, and PostgreSQL takes at most 65,535 in one statement.
_UPSERT_ROWS = 5000
_EVENT_COLUMNS = "received_at, pixel_id, visitor_id, type, url, referrer, title, name, engaged_ms, data"


def _visitors_upsert(visitors: dict[tuple[int, str], _VisitorTotals]) -> dict[tuple[int, str], tuple[int, bool, str | None]]:
    """Upsert the visitors' totals, rows in key order so that concurrent writers lock the same visitors in the
    same order; returns (pixel id, key) -> (visitor id, inserted, email)."""
    rows = {}
    keys = sorted(visitors)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), _UPSERT_ROWS):
            chunk = keys[start : start + _UPSERT_ROWS]
            params = []
            for pixel_id, key in chunk:
                totals = visitors[(pixel_id, key)]
                params += [
                    pixel_id,
                    key,
                    totals.first_seen,
                    totals.last_seen,
                    totals.pageviews,
                    totals.engaged_ms // 1000,
                    totals.last_url or "",
                ]
            cursor.execute(_VISITOR_UPSERT.format(rows=", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))), params)
            rows.update({(pixel_id, key): (pk, inserted, email) for pk, pixel_id, key, inserted, email in cursor.fetchall()})
    return rows


def _events_copy(events, visitor_rows: dict, now: dt.datetime) -> None:
    """The events in one COPY: several times faster than an INSERT of as many rows, which the writer of a busy
    web process needs to keep up with what it accepts (bench/pixel.py)."""
    with connection.cursor() as cursor, cursor.copy(f"COPY visitors_event ({_EVENT_COLUMNS}) FROM STDIN") as copy:
        for pixel_id, event in events:
            copy.write_row(
                (
                    event.get("received_at") or now,
                    pixel_id,
                    visitor_rows.get((pixel_id, event.get("visitor")), (None,))[0],
                    event["type"],
                    event["url"],
                    event["referrer"],
                    event["title"],
                    event["name"],
                    event.get("engaged_ms"),
                    Jsonb(event["data"]) if event.get("data") is not None else None,
                )
            )


def events_record(*, events: Sequence[tuple[int, dict]], ip: str | None = None) -> int:
    """Store accepted beacon events, as (pixel id, cleaned event) pairs, each event optionally carrying when it
    was received (`received_at`) and from where (`ip`, else the `ip` given here): the visitors' totals are
    upserted, the events go in with one insert, and their pixels become active. Events of a pixel deleted
    meanwhile are dropped. What can identify a visitor is handed to a background job in the same transaction.
    Returns how many events were stored."""
    if not events:
        return 0
    now = timezone.now()
    for month in {partitions.month_start(event.get("received_at") or now) for _, event in events}:
        _partition_ready(month)
    with transaction.atomic():
        # KEY SHARE: a pixel deleted now waits for these rows, and one deleted before is not written to.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, workspace_id, status FROM visitors_pixel WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
                [sorted({pixel_id for pixel_id, _ in events})],
            )
            pixels = {row[0]: row[1:] for row in cursor.fetchall()}
        events = [(pixel_id, event) for pixel_id, event in events if pixel_id in pixels]
        if not events:
            return 0
        visitors: dict[tuple[int, str], _VisitorTotals] = {}
        for pixel_id, event in events:
            if not event.get("visitor"):
                continue
            at = event.get("received_at") or now
            totals = visitors.setdefault((pixel_id, event["visitor"]), _VisitorTotals(first_seen=at, last_seen=at))
            totals.first_seen, totals.last_seen = min(totals.first_seen, at), max(totals.last_seen, at)
            totals.ip = totals.ip or event.get("ip") or ip
            if event["type"] == "pageview":
                totals.pageviews += 1
                totals.last_url = event["url"] or totals.last_url
            totals.engaged_ms += event.get("engaged_ms") or 0
        visitor_rows = _visitors_upsert(visitors)
        _events_copy(events, visitor_rows, now)
        # At most one write a second to a pixel's row, which every writer of that site would otherwise queue on.
        Pixel.objects.filter(pk__in={pixel_id for pixel_id, _ in events}).exclude(
            status=Pixel.Status.ACTIVE, last_event_at__gt=now - dt.timedelta(seconds=1)
        ).update(status=Pixel.Status.ACTIVE, last_event_at=now)
        # A waiting pixel's first hit installs it; the workspace's first one ticks its onboarding step.
        for workspace in Workspace.objects.filter(
            pk__in={pixels[pixel_id][0] for pixel_id, _ in events if pixels[pixel_id][1] == Pixel.Status.WAITING}
        ):
            onboarding_step_complete(workspace=workspace, step=OnboardingStep.Key.INSTALL_PIXEL)
        if work := _identifications(events, visitor_rows, visitors, now):
            job_enqueue("visitors.tasks.visitors_identify", items=work)
    return len(events)


# The traits of an identify call or a form that describe the person; anything else a site sends is ignored.
PERSON_TRAITS = ("email", "first_name", "last_name", "title", "company_name", "company_domain", "phone", "linkedin_url")


def _person_details(traits: dict) -> dict:
    """The usable person fields of what a site sent: text only, and a field that does not validate (a
    malformed phone number) is left out rather than costing the identification."""
    details = {field: traits[field] for field in PERSON_TRAITS if isinstance(traits.get(field), str)}
    _, errors = lead_fields_clean(details)
    return {field: value for field, value in details.items() if field not in errors or field == "email"}


def _lag_ms(seen_at: dt.datetime, now: dt.datetime) -> int:
    return max(0, int((now - seen_at).total_seconds() * 1000))


@transaction.atomic
def visitor_identify_person(*, visitor_id: int, method: str, traits: dict, seen_at: dt.datetime) -> Visitor | None:
    """The visitor is the person these traits name (an identify call, a form they submitted, a signed click
    id): the workspace's lead for that person is created or updated, with the visitor's engagement. None when
    the visitor is gone, the traits name nobody, or they name someone erased for privacy."""
    visitor = Visitor.objects.select_for_update().select_related("pixel__workspace").filter(pk=visitor_id).first()
    details = _person_details(traits)
    email = normalize.normalize_email(details.get("email"))
    if visitor is None or not normalize.is_valid_email(email):
        return None
    if erased_hashes(hashes=[normalize.suppression_hash(email)]):
        return None
    workspace = visitor.pixel.workspace
    lead, _ = lead_record_visitor(workspace=workspace, data=details, source_detail=f"website pixel “{visitor.pixel.name}”")
    now = timezone.now()
    visitor.lead = lead
    visitor.person = Person.objects.filter(dedup_hash=lead.dedup_hash).only("pk").first()
    visitor.email = lead.email
    visitor.first_name = lead.first_name or None
    visitor.last_name = lead.last_name or None
    visitor.title = lead.title or None
    visitor.person_company_name = lead.company_name or None
    if not visitor.company_name and lead.company_name:
        visitor.company_name, visitor.company_domain = lead.company_name, lead.company_domain or None
    visitor.identified_by = method
    visitor.identified_at = now
    visitor.identification_lag_ms = _lag_ms(seen_at, now)
    visitor.save()
    _engagement_sync(workspace=workspace, lead_ids=[lead.pk])
    if visitor.pixel.auto_enrich and visitor.person_id:
        try:
            with transaction.atomic():
                visitor = visitor_enrich(workspace=workspace, visitor_id=visitor.pk)
        except InsufficientCredits:
            logger.info("visitor not enriched: not enough credits", extra={"visitor_id": visitor.pk})
    lead.refresh_from_db(fields=["score"])
    _announce(visitor, score=lead.score)
    return visitor


def _announce(visitor: Visitor, *, score: int | None) -> None:
    """`visitor.identified`: who (or which company), how, and how engaged, for webhooks and Slack alerts."""
    emit(
        workspace=visitor.pixel.workspace,
        type="visitor.identified",
        data={
            "visitor_id": visitor.pk,
            "pixel_id": visitor.pixel_id,
            "identified_by": visitor.identified_by,
            "lead_id": visitor.lead_id,
            "email": visitor.email,
            "first_name": visitor.first_name,
            "last_name": visitor.last_name,
            "title": visitor.title,
            "company_name": visitor.company_name or visitor.person_company_name,
            "company_domain": visitor.company_domain,
            "score": score,
            "pageviews": visitor.pageviews,
            "engaged_seconds": visitor.engaged_seconds,
            "last_url": visitor.last_url,
        },
    )


@transaction.atomic
def visitor_enrich(*, workspace: Workspace, visitor_id, actor: User | None = None) -> Visitor:
    """Fill an identified visitor's lead from the lead database, charging VISITOR_ENRICHMENT_PRICE once per
    person per workspace (again for free after that). Raises InsufficientCredits and changes nothing when
    the balance is short; Conflict when the visitor names nobody the database knows."""
    visitor = Visitor.objects.select_for_update().filter(pk=visitor_id, pixel__workspace=workspace).first()
    if visitor is None:
        raise NotFound("That visitor does not exist in this workspace.")
    if visitor.person_id is None or visitor.lead_id is None:
        raise Conflict("Only a visitor identified as a person in the lead database can be enriched.", code="not_in_database")
    lead = Lead.objects.select_for_update().get(pk=visitor.lead_id, workspace=workspace)
    person = Person.objects.get(pk=visitor.person_id)
    enrichment, created = VisitorEnrichment.objects.get_or_create(
        workspace=workspace, person=person, defaults={"lead": lead, "credits_charged": settings.VISITOR_ENRICHMENT_PRICE}
    )
    if created:
        credits_spend(
            workspace=workspace,
            amount=enrichment.credits_charged,
            reference=enrichment.reference,
            actor=actor,
            # Not the person's name or address: the ledger is append-only and outlives an erasure.
            reason=f"Website visitor #{visitor.pk} filled from the lead database",
        )
    lead_fill_from_person(workspace=workspace, lead=lead, person=person)
    visitor.title = lead.title or None
    visitor.first_name, visitor.last_name = lead.first_name or None, lead.last_name or None
    visitor.person_company_name = lead.company_name or None
    visitor.company_name = visitor.company_name or lead.company_name or None
    visitor.company_domain = visitor.company_domain or lead.company_domain or None
    visitor.save()
    return visitor


def visitor_identify_click(*, visitor_id: int, click_id: str, seen_at: dt.datetime) -> Visitor | None:
    """A click from one of the workspace's emails names the recipient; a forged, expired or other workspace's
    click id names nobody."""
    workspace_id = Visitor.objects.filter(pk=visitor_id).values_list("pixel__workspace_id", flat=True).first()
    email = click_ids.click_id_email(click_id, workspace_id=workspace_id) if workspace_id else None
    if email is None:
        return None
    return visitor_identify_person(
        visitor_id=visitor_id, method=Visitor.IdentifiedBy.EMAIL_CLICK, traits={"email": email}, seen_at=seen_at
    )


_RANGE_OF_IP = """
SELECT company_name, company_domain, kind FROM visitors_iprange
WHERE network >>= %s::inet ORDER BY masklen(network) DESC LIMIT 1
"""


@transaction.atomic
def visitor_identify_company(*, visitor_id: int, ip: str, seen_at: dt.datetime) -> Visitor | None:
    """The company whose network the visitor came from, from the ranges staff imported. Company only: an IP
    address never names a person, and the networks of ISPs, hosting and VPN providers name nobody."""
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute(_RANGE_OF_IP, [ip])
        except DataError:
            return None
        found = cursor.fetchone()
    if found is None or found[2] != IpRange.Kind.COMPANY:
        return None
    visitor = Visitor.objects.select_for_update().select_related("pixel__workspace").filter(pk=visitor_id).first()
    if visitor is None:
        return None
    now = timezone.now()
    visitor.company_name, visitor.company_domain = found[0], found[1] or None
    named_now = visitor.identified_by is None
    if named_now:
        visitor.identified_by = Visitor.IdentifiedBy.IP
        visitor.identified_at = now
        visitor.identification_lag_ms = _lag_ms(seen_at, now)
    visitor.save()
    if named_now:
        _announce(visitor, score=None)
    return visitor


def _engagement_sync(*, workspace: Workspace, lead_ids) -> int:
    totals = (
        Visitor.objects.filter(lead_id__in=lead_ids, pixel__workspace=workspace)
        .values("lead_id")
        .annotate(pages=Sum("pageviews"), seconds=Sum("engaged_seconds"))
    )
    return leads_engagement_set(
        workspace=workspace, engagement={row["lead_id"]: (row["pages"], row["seconds"]) for row in totals}
    )


def visitors_engagement_sync(*, since: dt.datetime) -> int:
    """Carry identified visitors' latest pages and time on site into their leads (and so their scores): the
    leads of visitors seen since `since`. Returns how many leads changed."""
    active = (
        Visitor.objects.filter(lead__isnull=False, last_seen__gte=since).values_list("pixel__workspace_id", "lead_id").distinct()
    )
    by_workspace: dict[int, list[int]] = {}
    for workspace_id, lead_id in active:
        by_workspace.setdefault(workspace_id, []).append(lead_id)
    changed = 0
    for workspace in Workspace.objects.filter(pk__in=by_workspace).order_by("pk"):
        with transaction.atomic():
            changed += _engagement_sync(workspace=workspace, lead_ids=by_workspace[workspace.pk])
    return changed


IP_RANGE_COLUMNS = ("network", "company_name", "company_domain", "kind")
_IP_RANGE_ALIASES = {
    "cidr": "network",
    "range": "network",
    "company": "company_name",
    "name": "company_name",
    "domain": "company_domain",
}
IP_RANGE_IMPORT_MAX_ROWS = 500_000


@dataclass
class IpRangeImport:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def _ip_range_row(row: dict, line: int) -> tuple[dict | None, str | None]:
    try:
        network = str(ipaddress.ip_network((row.get("network") or "").strip(), strict=False))
    except ValueError:
        return None, f"Line {line}: '{(row.get('network') or '')[:60]}' is not a network such as 203.0.113.0/24."
    name = (row.get("company_name") or "").strip()
    if not name:
        return None, f"Line {line}: the company name is missing."
    kind = (row.get("kind") or IpRange.Kind.COMPANY).strip().lower()
    if kind not in IpRange.Kind.values:
        return None, f"Line {line}: kind '{kind[:30]}' is not one of {', '.join(IpRange.Kind.values)}."
    domain = (row.get("company_domain") or "").strip().lower()
    if domain:
        try:
            domain = domain_normalize(domain)
        except ValidationFailed:
            return None, f"Line {line}: '{domain[:60]}' is not a domain such as initech.com."
    return {"network": network, "company_name": name[:200], "company_domain": domain, "kind": kind}, None


def ip_ranges_import(*, lines: Iterable[str]) -> IpRangeImport:
    """Add or replace (by network) the IP ranges of a CSV with the columns network, company_name,
    company_domain, kind (company, isp, hosting or vpn; company when blank). All or nothing: a file with any
    bad line imports nothing and says which lines are wrong."""
    reader = csv.DictReader(lines)
    header = [_IP_RANGE_ALIASES.get(name.strip().lower(), name.strip().lower()) for name in reader.fieldnames or []]
    missing = [column for column in ("network", "company_name") if column not in header]
    if missing:
        raise ValidationFailed(
            f"The file needs a header row with the columns {', '.join(IP_RANGE_COLUMNS)} (missing: {', '.join(missing)})."
        )
    result = IpRangeImport()
    ranges: dict[str, dict] = {}
    for line, values in enumerate(reader, start=2):
        if line - 1 > IP_RANGE_IMPORT_MAX_ROWS:
            raise ValidationFailed(f"Import at most {IP_RANGE_IMPORT_MAX_ROWS:,} ranges per file.")
        row, error = _ip_range_row(dict(zip(header, values.values(), strict=False)), line)
        if error:
            result.errors.append(error)
        else:
            ranges[row["network"]] = row
    if result.errors or not ranges:
        if not result.errors:
            result.errors.append("The file has no ranges.")
        return result
    now = timezone.now()
    with transaction.atomic():
        existing = set(IpRange.objects.filter(network__in=list(ranges)).values_list("network", flat=True))
        IpRange.objects.bulk_create(
            [IpRange(imported_at=now, **row) for row in ranges.values()],
            batch_size=5000,
            update_conflicts=True,
            unique_fields=["network"],
            update_fields=["company_name", "company_domain", "kind", "imported_at"],
        )
    result.updated = len(existing)
    result.created = len(ranges) - result.updated
    return result
