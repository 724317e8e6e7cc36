"""Every write of batch enrichment: the upload, matching (free), confirmation (the one charge), cancellation,
the result file and retention. How matching and pricing work: docs/enrichment.md.

Matching reads the file row by row (leads.csv_import.read_rows) in chunks of ENRICHMENT_CHUNK_ROWS; each
chunk's matches and counters commit together, with `chunks_done`, so a worker that dies mid-file leaves the
enrichment "matching" with a stale heartbeat and the next run (the sweeper's, or a retry) resumes after the
last committed chunk. Each chunk costs one query per kind of key (email, phone, LinkedIn, name + company) and
one for the people the workspace owns (those earlier chunks matched are remembered: SeenPeople).

Confirmation is the only step that moves money: in one transaction it locks the enrichment, adds the matched
people to the workspace's leads (INSERT ... ON CONFLICT DO NOTHING) and debits the credits for them, once.
The result file is then written by a job that can run again from scratch at no cost.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from accounts.models import User, Workspace
from credits.errors import InsufficientCredits
from credits.selectors import credit_balance
from credits.services import credit_accounts_lock, credits_spend, to_credits
from cursive.errors import Conflict, NotFound, ValidationFailed
from cursive.events import emit
from cursive.files import StoredFile
from cursive.jobs import job_enqueue
from cursive.models import Job
from leads import normalize
from leads.csv_import import CsvFormat, FileRejected, Row, Source, check_size, count_lines, read_rows, reading_plan
from leads.export import escape_cell
from leads.models import ERASED_SQL, LINKEDIN_KEY
from leads.services import LEAD_FIELDS, leads_announce, leads_rescore
from leads.similarity import company_key, domain_key, fold, person_similarity, text_similarity

from .models import Enrichment, EnrichmentRow

logger = logging.getLogger("cursive.enrichment")

# The lead fields a match can fill ("phone for 212 of 245"); country is left out: every person has one.
FILL_FIELDS = tuple(name for name in LEAD_FIELDS if name != "country")
RESULT_COLUMNS = ("match_status", "match_method", "match_confidence")
Method = EnrichmentRow.Method
# Rows of the result fetched from the database at a time while the file is written, and new leads scored and
# announced at a time at confirmation.
RESULT_BATCH_ROWS = 2_000
ANNOUNCE_BATCH = 2_000


class MatchStatus:
    """`match_status` of a result row."""

    MATCHED = "matched"  # enriched (and charged for) by this enrichment
    ALREADY_OWNED = "already_owned"  # a person the workspace had: its fields, free
    DUPLICATE = "duplicate"  # the same person as an earlier row of the file
    NOTHING_TO_FILL = "nothing_to_fill"  # matched, but the row already had everything the match knows
    NOT_SELECTED = "not_selected"  # a match left out by the credit cap
    NO_MATCH = "no_match"
    NO_KEY = "no_key"  # no email, phone, LinkedIn URL or name + company to match by


def mapping_problem(fields: set[str]) -> str | None:
    """Why rows mapped to these lead fields cannot match anybody, or None when they can."""
    if fields & {"email", "phone", "linkedin_url"}:
        return None
    if {"first_name", "last_name"} <= fields and fields & {"company_domain", "company_name"}:
        return None
    return (
        "Rows are matched by email, phone or LinkedIn URL, or by first and last name with a company domain or name: "
        "map a column to at least one of these."
    )


def _reading_plan(source: Source, mapping: dict | None) -> tuple[CsvFormat, dict[str, str]]:
    fmt, resolved = reading_plan(source, mapping)
    problem = mapping_problem(set(resolved.values()))
    if problem:
        found = ", ".join(fmt.header[:10]) or "none"
        message = f"{problem} (Columns found: {found}.)"
        raise ValidationFailed(message, fields={"mapping": [message]})
    return fmt, resolved


def enrichment_create(*, workspace: Workspace, file: UploadedFile, mapping: dict | None, created_by: User | None) -> Enrichment:
    """Store the list and queue its matching; a file that cannot be read or mapped is refused now (400)."""
    check_size(file.size)
    if mapping is not None and not isinstance(mapping, dict):
        message = "The mapping must be an object of CSV header -> lead field."
        raise ValidationFailed(message, fields={"mapping": [message]})
    with transaction.atomic():
        enrichment = Enrichment(
            workspace=workspace,
            original_name=(file.name or "list.csv")[:255],
            size_bytes=file.size,
            price_per_row=settings.ENRICHMENT_PRICE_PER_ROW,
            created_by=created_by,
        )
        enrichment.retention_from(timezone.now())
        enrichment.file.save(f"{workspace.pk}-{timezone.now():%Y%m%d%H%M%S}.csv", file, save=False)
        try:
            _, enrichment.mapping = _reading_plan(StoredFile.of(enrichment.file), mapping)
        except ValidationFailed:
            enrichment.file.delete(save=False)
            raise
        enrichment.save()
        job_enqueue("enrichment.tasks.match_enrichment", enrichment_id=enrichment.pk)
    return enrichment


# ---------------------------------------------------------------------------
# Matching


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.UPLOAD_STALE_SECONDS)


def _claim_matching(enrichment_id: int) -> Enrichment | None:
    """Take an enrichment for matching: a queued one, or one whose worker stopped beating (resume)."""
    with transaction.atomic():
        enrichment = (
            Enrichment.objects.select_for_update(skip_locked=True, of=("self",), no_key=True).filter(pk=enrichment_id).first()
        )
        if enrichment is None:
            return None
        stale = enrichment.heartbeat_at is None or enrichment.heartbeat_at < _stale_before()
        resumable = enrichment.status == Enrichment.Status.MATCHING and stale
        if enrichment.status != Enrichment.Status.QUEUED and not resumable:
            return None
        enrichment.status = Enrichment.Status.MATCHING
        enrichment.heartbeat_at = timezone.now()
        enrichment.save(update_fields=["status", "heartbeat_at"])
    return enrichment


def _fail(enrichment: Enrichment, message: str) -> Enrichment:
    with transaction.atomic():
        EnrichmentRow.objects.filter(enrichment=enrichment).delete()
        Enrichment.objects.filter(pk=enrichment.pk).update(
            status=Enrichment.Status.FAILED, failure_message=message, finished_at=timezone.now(), heartbeat_at=None
        )
    enrichment.refresh_from_db()
    return enrichment


# What matching needs of a person: its identity, which fields it has (bit i: FILL_FIELDS[i], computed by
# PostgreSQL) and what name + company matching judges. The values themselves are read when the result is written.
_NAME_FIELDS = ("first_name", "last_name", "company_name", "company_domain")
_FIELD_BITS = {name: 1 << bit for bit, name in enumerate(FILL_FIELDS)}
_HAS_FIELDS = " + ".join(f"(CASE WHEN p.{name} <> '' THEN {bit} ELSE 0 END)" for name, bit in _FIELD_BITS.items())
_PERSON_COLUMNS = ", ".join(["p.id", "p.dedup_hash", _HAS_FIELDS, *(f"p.{name}" for name in _NAME_FIELDS)])
# Only people who can become a lead (a lead needs an email or a phone) are matches, and never someone erased for
# privacy (should they come back into the lead database).
_REACHABLE = f"((p.email <> '' OR p.phone <> '') AND NOT {ERASED_SQL.format(column='p.dedup_hash')})"
# A lookup's keys are one JSON array (`_people`): Django's cursor binds parameters client-side, quoting each element
# of a Python list into the query text one by one, which took longer than the lookups; a JSON text goes in whole.
_KEYS = "json_array_elements_text(%s::json)"
_BY_HASH_SQL = "SELECT p.dedup_hash, {columns} FROM leads_person p WHERE p.dedup_hash IN (SELECT {keys}) AND {reachable}"
# Lookups that can find several people per key take them one key at a time (LATERAL ... OFFSET 0, which
# PostgreSQL cannot flatten into a hash join), so each key is one probe of its index whatever the planner
# estimates (a LinkedIn key is a regular expression per row: a scan of a million people took seconds; an ORDER
# BY score inside made it walk the score index instead). Several people on one number or profile: the first, by
# score, is the match (the outer ORDER BY; `_people` keeps that order).
_BY_PHONE_SQL = """
SELECT q.key, {columns} FROM {keys} AS q(key) CROSS JOIN LATERAL (
    SELECT * FROM leads_person p WHERE p.phone = q.key AND p.phone <> '' AND {reachable} OFFSET 0
) p
ORDER BY q.key, p.score DESC, p.id
"""
_BY_LINKEDIN_SQL = """
SELECT q.key, {columns} FROM {keys} AS q(key) CROSS JOIN LATERAL (
    SELECT * FROM leads_person p WHERE {key} = q.key AND p.linkedin_url <> '' AND {reachable} OFFSET 0
) p
ORDER BY q.key, p.score DESC, p.id
"""
# Name + company: the people at the row's company whose last name is trigram-similar to the row's (a loose
# pre-filter: any last name leads.similarity accepts is far above 0.3), judged afterwards by leads.similarity.
# One row per (company, last name) pair of the chunk; a company is found by its domain (the unique index), or
# by its name: companies whose name holds words like the row's company without legal suffixes (pg_trgm's word
# similarity, served by company_name_trgm), so "Acme Inc." finds "ACME Incorporated". The company too is probed
# key by key: joined as a set, it was hashed whole (every company, each chunk) for a few hundred keys.
_BY_DOMAIN_SQL = """
SELECT q.domain || ' ' || q.last, {columns} FROM ROWS FROM ({keys}, {keys}) AS q(domain, last)
CROSS JOIN LATERAL (SELECT c.id FROM leads_company c WHERE c.domain = q.domain OFFSET 0) c
CROSS JOIN LATERAL (
    SELECT * FROM leads_person p WHERE p.company_id = c.id AND similarity(lower(p.last_name), q.last) >= 0.3
    AND {reachable} OFFSET 0
) p
"""
# A company written as the lead database writes it (case aside) is found by company_lower_name_idx; only rows
# whose company that finds nobody at are looked up by word similarity below (about a millisecond a company).
_BY_COMPANY_EXACT_SQL = """
SELECT q.company || ' ' || q.last, {columns} FROM ROWS FROM ({keys}, {keys}) AS q(company, last)
CROSS JOIN LATERAL (SELECT c.id FROM leads_company c WHERE lower(c.name) = q.company OFFSET 0) c
CROSS JOIN LATERAL (
    SELECT * FROM leads_person p WHERE p.company_id = c.id AND similarity(lower(p.last_name), q.last) >= 0.3
    AND {reachable} OFFSET 0
) p
"""
# Word similarity from 0.7 (pg_trgm's default, 0.6, let "Acme Analytics" find every "... Analytics"): a typo in a
# longer name still passes; judging is leads.similarity's.
COMPANY_WORD_SIMILARITY = 0.7
_BY_COMPANY_NAME_SQL = """
SELECT q.company || ' ' || q.last, {columns} FROM ROWS FROM ({keys}, {keys}) AS q(company, last)
JOIN leads_company c ON q.company <%% lower(c.name)
CROSS JOIN LATERAL (
    SELECT * FROM leads_person p WHERE p.company_id = c.id AND similarity(lower(p.last_name), q.last) >= 0.3
    AND {reachable} OFFSET 0
) p
"""


def _by_linkedin_sql() -> str:
    """People by LinkedIn profile key, with the very expression of the index person_linkedin_key_idx (compiled
    by Django, constants inlined) so that PostgreSQL uses that index and the two cannot drift apart."""
    from django.db.models.sql import Query

    from leads.models import Person

    query = Query(Person, alias_cols=False)
    sql, params = LINKEDIN_KEY.resolve_expression(query).as_sql(query.get_compiler(connection=connection), connection)
    key = connection.ops.compose_sql(sql, params).replace('"linkedin_url"', "p.linkedin_url").replace("%", "%%")
    return _BY_LINKEDIN_SQL.replace("{key}", key)


@dataclass
class _Person:
    id: int
    dedup_hash: str
    has_fields: int
    values: dict  # _NAME_FIELDS


def _people(sql: str, *keys: list) -> dict[str, list[_Person]]:
    """Run one lookup of a chunk; people grouped by the key they were found by, in the order found."""
    found: dict[str, list[_Person]] = {}
    if not keys[0]:
        return found
    company = sql is _BY_COMPANY_NAME_SQL
    with transaction.atomic() if company else nullcontext(), connection.cursor() as cursor:
        if company:
            cursor.execute("SET LOCAL pg_trgm.word_similarity_threshold = %s", [COMPANY_WORD_SIMILARITY])
        cursor.execute(
            sql.format(columns=_PERSON_COLUMNS, reachable=_REACHABLE, keys=_KEYS), [json.dumps(column) for column in keys]
        )
        for key, person_id, dedup, has_fields, *values in cursor.fetchall():
            found.setdefault(key, []).append(_Person(person_id, dedup, has_fields, dict(zip(_NAME_FIELDS, values, strict=True))))
    return found


@dataclass
class _Match:
    method: str
    person: _Person
    confidence: Decimal


@dataclass
class _ChunkResult:
    rows: list[tuple] = field(default_factory=list)  # values of _ROW_COLUMNS
    counts: dict[str, int] = field(default_factory=dict)


def _name_key(values: dict) -> tuple[str, str, str] | None:
    """("domain", domain, last name) or ("company", company name, last name), lowercase, for a row with a first
    and last name and a company; else None."""
    if not (values.get("first_name") and values.get("last_name")):  # most rows: not mapped, or blank
        return None
    last = normalize.clean_text(values["last_name"]).lower()
    if not (fold(values["first_name"]) and fold(last)):
        return None
    domain = domain_key(values.get("company_domain", ""))
    if domain:
        return "domain", domain, last
    company = normalize.clean_text(values.get("company_name")).lower()
    if company_key(company):
        return "company", company, last
    return None


def _best_by_name(values: dict, candidates: list[_Person]) -> _Match | None:
    threshold = settings.FUZZY_DUPLICATE_THRESHOLD
    last = fold(values.get("last_name", ""))
    best: tuple[float, int, _Person] | None = None
    for person in candidates:
        # The last name is the cheapest part of the score to reject on, and the score is the weakest part.
        if text_similarity(last, fold(person.values["last_name"])) < threshold:
            continue
        score = person_similarity(values, person.values)
        if score >= threshold and (best is None or (score, -person.id) > (best[0], -best[1])):
            best = (score, person.id, person)
    if best is None:
        return None
    return _Match(Method.NAME, best[2], Decimal(str(best[0])).quantize(Decimal("0.001")))


def _fill_mask(values: dict, person: _Person) -> int:
    """The fields the person has and the row lacks (bit i: FILL_FIELDS[i])."""
    present = 0
    for name, value in values.items():
        if value and name in _FIELD_BITS and value.strip():
            present |= _FIELD_BITS[name]
    return person.has_fields & ~present


def _phone_key(text: str) -> str:
    """The E.164 form of a plainly written number without parsing it (libphonenumber takes a fraction of a
    millisecond a number): 10 US digits, 1 + 10 digits, or + and the digits. '' otherwise; a number written
    any other way, or one that matches nobody this way, goes through leads.normalize.normalize_phone."""
    digits = normalize.phone_digits(text)
    if text.lstrip().startswith("+"):
        return f"+{digits}" if 8 <= len(digits) <= 15 else ""
    if len(digits) == 10:
        return f"+1{digits}"
    if len(digits) == 11 and digits[0] == "1":
        return f"+{digits}"
    return ""


EXACT = Decimal("1.000")


def _grouped(pairs) -> dict[str, list[int]]:
    """key -> row numbers, from (row number, key) pairs; rows without a key left out."""
    grouped: dict[str, list[int]] = {}
    for number, key in pairs:
        if key:
            grouped.setdefault(key, []).append(number)
    return grouped


def _take(matches: dict[int, _Match], method: str, keyed: dict[str, list[int]], found: dict[str, list[_Person]]) -> None:
    for key, people in found.items():
        for number in keyed[key]:
            matches[number] = _Match(method, people[0], EXACT)


def _match_chunk(enrichment: Enrichment, rows: list[Row], seen: SeenPeople) -> _ChunkResult:
    """Each row by its strongest key that finds somebody: email, then phone, then LinkedIn URL, then name +
    company. A handful of queries for the whole chunk, whatever its size."""
    values_of = {row.number: row.values for row in rows if not row.error}
    matches: dict[int, _Match] = {}
    usable: set[int] = set()  # rows with a key worth looking up, found or not

    def unmatched():
        return ((number, values) for number, values in values_of.items() if number not in matches)

    by_email = _grouped(
        (number, normalize.dedup_hash(email, ""))
        for number, values in unmatched()
        if (email := normalize.normalize_email(values.get("email"))) and normalize.is_valid_email(email)
    )
    usable.update(itertools.chain.from_iterable(by_email.values()))
    _take(matches, Method.EMAIL, by_email, _people(_BY_HASH_SQL, list(by_email)))

    # Plainly written numbers are looked up as they are; those that found nobody are parsed for real (is it a
    # number at all? written another way?) and looked up again where parsing gives another form.
    phones = {number: values["phone"] for number, values in unmatched() if (values.get("phone") or "").strip()}
    guessed = {number: _phone_key(text) for number, text in phones.items()}
    by_phone = _grouped(guessed.items())
    found = _people(_BY_PHONE_SQL, list(by_phone))
    usable.update(itertools.chain.from_iterable(by_phone[key] for key in found))
    _take(matches, Method.PHONE, by_phone, found)
    parsed = {number: normalize.normalize_phone(text) for number, text in phones.items() if number not in matches}
    usable.update(number for number, phone in parsed.items() if phone)
    by_phone = _grouped((number, phone) for number, phone in parsed.items() if phone and phone != guessed[number])
    _take(matches, Method.PHONE, by_phone, _people(_BY_PHONE_SQL, list(by_phone)))

    by_linkedin = _grouped((number, normalize.linkedin_key(values.get("linkedin_url"))) for number, values in unmatched())
    usable.update(itertools.chain.from_iterable(by_linkedin.values()))
    _take(matches, Method.LINKEDIN, by_linkedin, _people(_by_linkedin_sql(), list(by_linkedin)))

    by_name = _grouped((number, _name_key(values)) for number, values in unmatched())
    usable.update(itertools.chain.from_iterable(by_name.values()))
    for key, candidates in _name_candidates(list(by_name)).items():
        for number in by_name[key]:
            if match := _best_by_name(values_of[number], candidates):
                matches[number] = match

    return _judge(enrichment, rows, matches, usable, seen)


def _name_candidates(keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], list[_Person]]:
    """The people each (kind, company, last name) key of name + company matching could be: at the company of
    that domain, or of that name, else of a similar name."""

    def lookup(sql, pairs):
        found = _people(sql, [company for company, _ in pairs], [last for _, last in pairs])
        return {pair: found.get(f"{pair[0]} {pair[1]}", []) for pair in pairs}

    domains = lookup(_BY_DOMAIN_SQL, [(company, last) for kind, company, last in keys if kind == "domain"])
    companies = lookup(_BY_COMPANY_EXACT_SQL, [(company, last) for kind, company, last in keys if kind == "company"])
    unknown = [(company, last) for (company, last), people in companies.items() if not people]
    similar = lookup(_BY_COMPANY_NAME_SQL, [(company_key(company), last) for company, last in unknown])
    for company, last in unknown:
        companies[(company, last)] = similar[(company_key(company), last)]
    return {
        **{("domain", company, last): people for (company, last), people in domains.items()},
        **{("company", company, last): people for (company, last), people in companies.items()},
    }


class SeenPeople:
    """The people earlier rows of the file matched, as a bitmap by person id: a million people fit in 125 KB, so
    memory does not grow with the file, and asking costs no query (a query per chunk against rows inserted
    seconds earlier was planned on stale statistics and took seconds)."""

    def __init__(self, person_ids=()):
        self.bits = bytearray()
        for person_id in person_ids:
            self.add(person_id)

    def add(self, person_id: int) -> bool:
        """Mark the person seen; whether it already was."""
        byte, bit = divmod(person_id, 8)
        if byte >= len(self.bits):
            self.bits.extend(bytes(max(byte + 1 - len(self.bits), len(self.bits))))
        seen = bool(self.bits[byte] & (1 << bit))
        self.bits[byte] |= 1 << bit
        return seen

    @classmethod
    def of(cls, enrichment: Enrichment) -> SeenPeople:
        """Those of the chunks already committed (a resumed run)."""
        rows = EnrichmentRow.objects.filter(enrichment=enrichment, duplicate=False, person__isnull=False)
        return cls(rows.values_list("person_id", flat=True).iterator(chunk_size=20_000))


def _judge(
    enrichment: Enrichment, rows: list[Row], matches: dict[int, _Match], usable: set[int], seen: SeenPeople
) -> _ChunkResult:
    """Which matches are free (owned, repeated) or fill nothing, and which are charged for."""
    hashes = sorted({match.person.dedup_hash for match in matches.values()})
    owned: set[str] = set()
    if matches:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT dedup_hash FROM leads_lead WHERE workspace_id = %s "
                "AND dedup_hash IN (SELECT json_array_elements_text(%s::json))",
                [enrichment.workspace_id, json.dumps(hashes)],
            )
            owned = {row[0] for row in cursor.fetchall()}
    counts = dict.fromkeys(("total", "matched", "owned", "duplicate", "nothing_to_fill", "billable", "unusable"), 0)
    counts["total"] = len(rows)
    result = _ChunkResult(counts=counts)
    for row in rows:
        match = matches.get(row.number)
        if match is None:
            if row.number not in usable:
                counts["unusable"] += 1
            continue
        person = match.person
        is_owned = person.dedup_hash in owned
        duplicate = seen.add(person.id)
        mask = _fill_mask(row.values, person)
        billable = not is_owned and not duplicate and mask != 0
        counts["matched"] += 1
        if is_owned:
            counts["owned"] += 1
        elif duplicate:
            counts["duplicate"] += 1
        elif not mask:
            counts["nothing_to_fill"] += 1
        else:
            counts["billable"] += 1
        fills = mask.bit_count()
        result.rows.append(
            (
                enrichment.pk,
                row.number,
                match.method,
                person.id,
                match.confidence,
                is_owned,
                duplicate,
                fills,
                mask,
                billable,
                False,
            )
        )
    return result


def enrichment_match(*, enrichment_id: int) -> Enrichment | None:
    """Match an enrichment's rows (free), chunk by chunk, resuming after the last committed chunk; then the
    quote. None when another worker has it."""
    enrichment = _claim_matching(enrichment_id)
    if enrichment is None:
        return None
    try:
        # Streamed from storage, whichever node took the upload.
        source = StoredFile.of(enrichment.file)
        try:
            fmt, mapping = _reading_plan(source, enrichment.mapping)
        except ValidationFailed as exc:  # checked at upload already; a file changed since
            return _fail(enrichment, exc.message)
        if not enrichment.estimated_rows:
            Enrichment.objects.filter(pk=enrichment.pk).update(estimated_rows=count_lines(source) - 1)
        rows = read_rows(source, fmt, mapping)
        seen = SeenPeople.of(enrichment) if enrichment.chunks_done else SeenPeople()
        for index in itertools.count():
            chunk = list(itertools.islice(rows, settings.ENRICHMENT_CHUNK_ROWS))
            if not chunk:
                break
            if index < enrichment.chunks_done:
                continue  # committed by an earlier run
            if not _commit_chunk(enrichment, index, _match_chunk(enrichment, chunk, seen)):
                return None
    except FileNotFoundError:
        return _fail(enrichment, "The uploaded file is missing on the server; upload it again.")
    except FileRejected as exc:
        return _fail(enrichment, f"The file could not be read as CSV: {exc}")
    return _finish_matching(enrichment_id)


# A chunk's matches go in with COPY: building model instances for bulk_create took longer than matching them.
_ROW_COLUMNS = "enrichment_id, row, method, person_id, confidence, owned, duplicate, fills, fill_mask, billable, selected"
_COPY_ROWS_SQL = f"COPY enrichment_enrichmentrow ({_ROW_COLUMNS}) FROM STDIN"


def _commit_chunk(enrichment: Enrichment, index: int, result: _ChunkResult) -> bool:
    counts = result.counts
    with transaction.atomic():
        if result.rows:
            with connection.cursor() as cursor, cursor.cursor.copy(_COPY_ROWS_SQL) as copy:
                for values in result.rows:
                    copy.write_row(values)
        updated = Enrichment.objects.filter(pk=enrichment.pk, chunks_done=index, status=Enrichment.Status.MATCHING).update(
            total_rows=F("total_rows") + counts["total"],
            matched_rows=F("matched_rows") + counts["matched"],
            already_owned_rows=F("already_owned_rows") + counts["owned"],
            duplicate_rows=F("duplicate_rows") + counts["duplicate"],
            nothing_to_fill_rows=F("nothing_to_fill_rows") + counts["nothing_to_fill"],
            billable_rows=F("billable_rows") + counts["billable"],
            unusable_rows=F("unusable_rows") + counts["unusable"],
            chunks_done=index + 1,
            heartbeat_at=timezone.now(),
        )
        if updated != 1:
            # Cancelled meanwhile, or another run took over (ours was thought dead): leave it to that.
            transaction.set_rollback(True)
            return False
    return True


_FILLS_SQL = "SELECT {columns} FROM enrichment_enrichmentrow WHERE enrichment_id = %s AND billable"


def _fills(enrichment: Enrichment) -> dict[str, int]:
    columns = ", ".join(f"count(*) FILTER (WHERE fill_mask & {1 << bit} <> 0)" for bit in range(len(FILL_FIELDS)))
    with connection.cursor() as cursor:
        cursor.execute(_FILLS_SQL.format(columns=columns), [enrichment.pk])
        counts = cursor.fetchone()
    return {name: count for name, count in zip(FILL_FIELDS, counts, strict=True) if count}


def _finish_matching(enrichment_id: int) -> Enrichment | None:
    with transaction.atomic():
        enrichment = Enrichment.objects.select_for_update(of=("self",), no_key=True).get(pk=enrichment_id)
        if enrichment.status != Enrichment.Status.MATCHING:
            return enrichment
        if enrichment.total_rows == 0:
            return _fail(enrichment, "The file has a header row but no rows under it.")
        by_method = dict(
            EnrichmentRow.objects.filter(enrichment=enrichment).values_list("method").annotate(n=Count("id")).order_by()
        )
        enrichment.matched_by = {method: by_method.get(method, 0) for method in Method.values}
        enrichment.fills = _fills(enrichment)
        enrichment.credits_quote = enrichment.price_per_row * enrichment.billable_rows
        enrichment.status = Enrichment.Status.AWAITING_CONFIRMATION
        enrichment.heartbeat_at = None
        enrichment.save(update_fields=["matched_by", "fills", "credits_quote", "status", "heartbeat_at"])
    return enrichment


# ---------------------------------------------------------------------------
# Confirmation and cancellation


def _lock(*, workspace: Workspace, enrichment_id) -> Enrichment:
    enrichment = (
        Enrichment.objects.select_for_update(of=("self",), no_key=True).filter(workspace=workspace, pk=enrichment_id).first()
    )
    if enrichment is None:
        raise NotFound("That enrichment does not exist in this workspace.")
    return enrichment


_SELECT_BEST_SQL = """
UPDATE enrichment_enrichmentrow SET selected = true WHERE id IN (
    SELECT id FROM enrichment_enrichmentrow WHERE enrichment_id = %(enrichment)s AND billable
    ORDER BY confidence DESC, fills DESC, row LIMIT %(limit)s
)
"""

# The people go in with one INSERT ... SELECT (segments.services.segment_pull does the same); ON CONFLICT skips
# anyone the workspace got meanwhile, and RETURNING says who was added: what is charged.
_ENRICH_SQL = """
INSERT INTO leads_lead (workspace_id, source, source_detail, status, email_status, phone_status, score, tags,
                        dedup_hash, pages_viewed, seconds_on_site, acquired_credits, acquired_reference,
                        created_by_id, created_at, updated_at, {columns})
SELECT %(workspace)s, 'enrichment', %(detail)s, 'new', CASE WHEN email_verified THEN 'valid' ELSE 'unknown' END,
       'unknown', 0, '{{}}', dedup_hash, 0, 0, %(price)s, %(reference)s, %(actor)s, %(now)s, %(now)s, {columns}
FROM leads_person WHERE id IN (
    SELECT person_id FROM enrichment_enrichmentrow WHERE enrichment_id = %(enrichment)s AND selected
) AND (email <> '' OR phone <> '')
ORDER BY id
ON CONFLICT (workspace_id, dedup_hash) DO NOTHING
RETURNING id, dedup_hash
"""

# Selected people the insert skipped (the workspace got them meanwhile, or they left the lead database) are not
# charged for: the first are marked owned, the others are simply not enriched.
_UNSELECT_SKIPPED_SQL = """
UPDATE enrichment_enrichmentrow r SET selected = false,
    owned = EXISTS (SELECT 1 FROM leads_person p JOIN leads_lead l ON l.dedup_hash = p.dedup_hash
                    WHERE p.id = r.person_id AND l.workspace_id = %(workspace)s)
WHERE r.enrichment_id = %(enrichment)s AND r.selected
  AND NOT EXISTS (SELECT 1 FROM leads_person p WHERE p.id = r.person_id AND p.dedup_hash = ANY(%(added)s))
"""


def _cap(max_credits) -> Decimal | None:
    if max_credits is None or max_credits == "":
        return None
    try:
        cap = to_credits(str(max_credits))
    except ValidationFailed as exc:
        message = "`max_credits` is a number of credits, e.g. 50.00."
        raise ValidationFailed(message, fields={"max_credits": ["Not a number."]}) from exc
    if cap < 0:
        raise ValidationFailed("`max_credits` cannot be negative.", fields={"max_credits": [">= 0"]})
    return cap


def enrichment_confirm(*, workspace: Workspace, enrichment_id, max_credits=None, actor: User | None) -> Enrichment:
    """Enrich the net-new matches (the best ones up to `max_credits`) and charge for them, once: a second
    confirmation, concurrent or later, changes nothing and answers the current state. 402 with nothing charged
    when the balance is short."""
    cap = _cap(max_credits)
    with transaction.atomic():
        enrichment = _lock(workspace=workspace, enrichment_id=enrichment_id)
        if enrichment.status in (Enrichment.Status.PROCESSING, Enrichment.Status.COMPLETE):
            return enrichment
        if enrichment.status != Enrichment.Status.AWAITING_CONFIRMATION:
            raise Conflict(
                f"This enrichment is {enrichment.get_status_display().lower()}; only a list whose matches are ready "
                "(awaiting confirmation) can be confirmed.",
                code="enrichment_not_awaiting_confirmation",
            )
        if enrichment.is_expired:
            raise Conflict(
                "This preview is older than the retention period and its matches were deleted; upload the list again.",
                code="enrichment_expired",
            )
        price = enrichment.price_per_row
        rows = enrichment.billable_rows
        if cap is not None and price > 0:
            rows = min(rows, int(cap // price))
            if rows == 0 and enrichment.billable_rows:
                raise ValidationFailed(
                    f"A cap of {cap:,.2f} credits does not cover one row ({price:,.2f} credits).",
                    fields={"max_credits": [f"At least {price:.2f}."]},
                )
        needed = price * rows
        # The credit account before the leads, as a purchase takes them: inserting leads locks the workspace's
        # lead tally (leads' migration 0014) until commit, and a purchase holds the account while it inserts.
        credit_accounts_lock(workspaces=[workspace])
        balance = credit_balance(workspace=workspace)
        if balance < needed:
            raise InsufficientCredits(needed=needed, balance=balance)
        with connection.cursor() as cursor:
            cursor.execute(_SELECT_BEST_SQL, {"enrichment": enrichment.pk, "limit": rows})
            cursor.execute(
                _ENRICH_SQL.format(columns=", ".join(LEAD_FIELDS)),
                {
                    "workspace": workspace.pk,
                    "detail": f"enrichment of “{enrichment.original_name}”"[:200],
                    "price": price,
                    "reference": enrichment.reference,
                    "actor": actor.pk if actor else None,
                    "now": timezone.now(),
                    "enrichment": enrichment.pk,
                },
            )
            added = cursor.fetchall()
            if len(added) < rows:
                cursor.execute(
                    _UNSELECT_SKIPPED_SQL,
                    {"workspace": workspace.pk, "enrichment": enrichment.pk, "added": [dedup for _, dedup in added]},
                )
        lead_ids = [lead_id for lead_id, _ in added]
        # In slices: a list can add 100,000 leads, and their events would otherwise be built all at once.
        for start in range(0, len(lead_ids), ANNOUNCE_BATCH):
            batch = lead_ids[start : start + ANNOUNCE_BATCH]
            leads_rescore(workspace=workspace, lead_ids=batch, announce=False)
            leads_announce(workspace=workspace, lead_ids=batch)
        charged = price * len(lead_ids)
        if charged > 0:
            credits_spend(
                workspace=workspace,
                amount=charged,
                reference=enrichment.reference,
                actor=actor,
                reason=f"Enrichment of {len(lead_ids):,} row(s) of “{enrichment.original_name}”",
            )
        enrichment.status = Enrichment.Status.PROCESSING
        enrichment.max_credits = cap
        enrichment.credits_charged = charged
        enrichment.enriched_rows = len(lead_ids)
        enrichment.confirmed_at = timezone.now()
        enrichment.result_rows = 0
        enrichment.heartbeat_at = None
        enrichment.save(
            update_fields=[
                "status",
                "max_credits",
                "credits_charged",
                "enriched_rows",
                "confirmed_at",
                "result_rows",
                "heartbeat_at",
            ]
        )
        job_enqueue("enrichment.tasks.build_result", enrichment_id=enrichment.pk)
    return enrichment


@transaction.atomic
def enrichment_cancel(*, workspace: Workspace, enrichment_id, actor: User | None) -> Enrichment:
    """Drop a list before it is confirmed; nothing is charged. Cancelling twice changes nothing."""
    enrichment = _lock(workspace=workspace, enrichment_id=enrichment_id)
    if enrichment.status == Enrichment.Status.CANCELLED:
        return enrichment
    if enrichment.status not in (
        Enrichment.Status.QUEUED,
        Enrichment.Status.MATCHING,
        Enrichment.Status.AWAITING_CONFIRMATION,
    ):
        raise Conflict(
            f"This enrichment is {enrichment.get_status_display().lower()}; only one not yet confirmed can be cancelled.",
            code="enrichment_not_cancellable",
        )
    enrichment.status = Enrichment.Status.CANCELLED
    enrichment.finished_at = timezone.now()
    enrichment.heartbeat_at = None
    enrichment.save(update_fields=["status", "finished_at", "heartbeat_at"])
    return enrichment


# ---------------------------------------------------------------------------
# The result file


def _claim_result(enrichment_id: int) -> Enrichment | None:
    with transaction.atomic():
        enrichment = (
            Enrichment.objects.select_for_update(skip_locked=True, of=("self",), no_key=True).filter(pk=enrichment_id).first()
        )
        if enrichment is None or enrichment.status != Enrichment.Status.PROCESSING:
            return None
        if enrichment.heartbeat_at is not None and enrichment.heartbeat_at >= _stale_before():
            return None  # its worker is alive
        enrichment.heartbeat_at = timezone.now()
        enrichment.result_rows = 0
        enrichment.save(update_fields=["heartbeat_at", "result_rows"])
    return enrichment


# Three plain queries per batch of the result (the batch's matches, their people, which of those the workspace
# owns): each is an index lookup however fresh the statistics of tables filled minutes ago are.
_RESULT_MATCHES_SQL = """
SELECT row, method, confidence, owned, duplicate, billable, selected, person_id FROM enrichment_enrichmentrow
WHERE enrichment_id = %s AND row BETWEEN %s AND %s
"""
_RESULT_PEOPLE_SQL = "SELECT id, dedup_hash, {columns} FROM leads_person WHERE id = ANY(%s)"
_EMPTY_FIELDS = [""] * len(LEAD_FIELDS)


def _row_outcome(stored, person, in_workspace: bool) -> tuple[str, list]:
    """(match_status, lead fields) of a matched row: fields only for people the workspace owns through this
    enrichment or already did."""
    _, _, _, owned, duplicate, billable, selected, _ = stored
    if person is None:  # erased from the lead database since
        return MatchStatus.NO_MATCH, _EMPTY_FIELDS
    fields = person[2:]
    if owned:
        return MatchStatus.ALREADY_OWNED, fields
    if duplicate:
        return MatchStatus.DUPLICATE, fields if in_workspace else _EMPTY_FIELDS
    if selected:
        return MatchStatus.MATCHED, fields
    if billable:
        return MatchStatus.NOT_SELECTED, _EMPTY_FIELDS
    return MatchStatus.NOTHING_TO_FILL, _EMPTY_FIELDS


def _has_key(values: dict) -> bool:
    return bool(
        normalize.is_valid_email(normalize.normalize_email(values.get("email")))
        or ((values.get("phone") or "").strip() and normalize.normalize_phone(values["phone"]))
        or normalize.linkedin_key(values.get("linkedin_url"))
        or _name_key(values)
    )


def _write_result(enrichment: Enrichment, source: Source, out) -> int:
    """Every input row in order with its columns as they were (escaped), then the match and the lead fields."""
    fmt, mapping = _reading_plan(source, enrichment.mapping)
    width = len(fmt.header)
    writer = csv.writer(out)
    writer.writerow([escape_cell(cell) for cell in fmt.header] + list(RESULT_COLUMNS) + list(LEAD_FIELDS))
    rows = read_rows(source, fmt, mapping)
    written = 0
    while batch := list(itertools.islice(rows, RESULT_BATCH_ROWS)):
        first, last = batch[0].number, batch[-1].number
        with connection.cursor() as cursor:
            cursor.execute(_RESULT_MATCHES_SQL, [enrichment.pk, first, last])
            stored = {row[0]: row for row in cursor.fetchall()}
            cursor.execute(
                _RESULT_PEOPLE_SQL.format(columns=", ".join(LEAD_FIELDS)), [sorted({row[7] for row in stored.values() if row[7]})]
            )
            people = {person[0]: person for person in cursor.fetchall()}
            cursor.execute(
                "SELECT dedup_hash FROM leads_lead WHERE workspace_id = %s AND dedup_hash = ANY(%s)",
                [enrichment.workspace_id, [person[1] for person in people.values()]],
            )
            owned = {row[0] for row in cursor.fetchall()}
        for row in batch:
            cells = (row.cells + [""] * width)[:width]
            match = stored.get(row.number)
            if match is None:
                status = MatchStatus.NO_KEY if row.error or not _has_key(row.values) else MatchStatus.NO_MATCH
                tail = [status, "", "", *_EMPTY_FIELDS]
            else:
                person = people.get(match[7])
                status, fields = _row_outcome(match, person, person is not None and person[1] in owned)
                tail = [status, match[1], f"{match[2]:.3f}", *fields]
            writer.writerow([escape_cell(cell) for cell in cells] + [escape_cell(cell) for cell in tail])
        written += len(batch)
        Enrichment.objects.filter(pk=enrichment.pk).update(result_rows=written, heartbeat_at=timezone.now())
    return written


def enrichment_build_result(*, enrichment_id: int) -> Enrichment | None:
    """Write the result file (from scratch: no money moves here, so a rerun after a dead worker is safe), then
    mark the enrichment complete, announce it and email its creator."""
    enrichment = _claim_result(enrichment_id)
    if enrichment is None:
        return None
    name = f"enrichments/results/enrichment-{enrichment.workspace_id}-{enrichment.pk}.csv"
    storage = enrichment.result_file.storage
    with tempfile.TemporaryFile("w+b") as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        try:
            _write_result(enrichment, StoredFile.of(enrichment.file), text)
        except FileNotFoundError:
            # The people are the workspace's leads already (what was paid for); only the file cannot be made.
            Enrichment.objects.filter(pk=enrichment.pk, status=Enrichment.Status.PROCESSING).update(
                status=Enrichment.Status.FAILED,
                heartbeat_at=None,
                finished_at=timezone.now(),
                failure_message="The uploaded file is missing on the server, so the enriched file cannot be written; "
                "the enriched people are in My Leads.",
            )
            return None
        text.flush()
        text.detach()
        spool.seek(0)
        if storage.exists(name):
            storage.delete(name)  # a dead run's file
        stored_name = storage.save(name, File(spool))
    with transaction.atomic():
        locked = Enrichment.objects.select_for_update(of=("self",), no_key=True).get(pk=enrichment_id)
        if locked.status != Enrichment.Status.PROCESSING:
            return locked
        now = timezone.now()
        locked.result_file.name = stored_name
        locked.status = Enrichment.Status.COMPLETE
        locked.finished_at = now
        locked.heartbeat_at = None
        locked.retention_from(now)
        locked.save(update_fields=["result_file", "status", "finished_at", "heartbeat_at", "expires_at"])
        emit(
            workspace=locked.workspace,
            type="enrichment.completed",
            data={
                "enrichment_id": locked.pk,
                "file_name": locked.original_name,
                "status": locked.status,
                "total_rows": locked.total_rows,
                "matched_rows": locked.matched_rows,
                "already_owned_rows": locked.already_owned_rows,
                "enriched_rows": locked.enriched_rows,
                "credits_charged": f"{locked.credits_charged:.2f}",
            },
        )
        job_enqueue("enrichment.tasks.send_enrichment_completed", enrichment_id=locked.pk)
    return locked


# ---------------------------------------------------------------------------
# Schedules


def enrichments_resume_stale() -> int:
    """Every minute: hand enrichments whose worker died back to a worker (matching, or the result file), unless
    a job for them is already waiting or running (a job that keeps failing is retried by cursive.jobs, then left
    for staff, not queued again here every minute)."""
    stale = _stale_before()
    queued = 0
    for status, func in (
        (Enrichment.Status.MATCHING, "enrichment.tasks.match_enrichment"),
        (Enrichment.Status.PROCESSING, "enrichment.tasks.build_result"),
    ):
        ids = Enrichment.objects.filter(status=status, heartbeat_at__lt=stale).values_list("pk", flat=True)[:100]
        for enrichment_id in ids:
            waiting = Job.objects.filter(
                func=func, kwargs__enrichment_id=enrichment_id, status__in=[Job.Status.PENDING, Job.Status.RUNNING]
            )
            if not waiting.exists():
                job_enqueue(func, enrichment_id=enrichment_id)
                queued += 1
    return queued


def enrichments_expire() -> int:
    """Hourly: past ENRICHMENT_RETENTION_DAYS, delete an enrichment's files and per-row matches; the enrichment
    itself stays (its counts, quote and charge), marked expired. Returns how many expired."""
    due = list(
        Enrichment.objects.filter(expired_at=None, expires_at__lte=timezone.now())
        .exclude(status__in=[Enrichment.Status.QUEUED, Enrichment.Status.MATCHING, Enrichment.Status.PROCESSING])
        .values_list("pk", flat=True)[:100]
    )
    expired = 0
    for enrichment_id in due:
        with transaction.atomic():
            enrichment = (
                Enrichment.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
                .filter(pk=enrichment_id, expired_at=None)
                .first()
            )
            if enrichment is None:
                continue
            files = [(f.storage, f.name) for f in (enrichment.file, enrichment.result_file) if f.name]
            EnrichmentRow.objects.filter(enrichment=enrichment).delete()
            enrichment.file = ""
            enrichment.result_file = ""
            enrichment.expired_at = timezone.now()
            enrichment.save(update_fields=["file", "result_file", "expired_at"])
            transaction.on_commit(lambda files=files: _delete_files(files))
            expired += 1
    return expired


def _delete_files(files) -> None:
    for storage, name in files:
        storage.delete(name)
