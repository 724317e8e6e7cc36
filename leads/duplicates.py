"""Fuzzy duplicates (docs/duplicates.md): find the pairs of records that are probably one person, merge one record
into the other, or dismiss a pair as "not a duplicate".

The scan never compares millions of records with each other. It reduces each record to three small integers, the
keys of its first name, last name and company (leads.similarity's `fold`, `company_key`, `domain_key`), judges the
few thousand *distinct* keys against each other once (pg_trgm proposes the similar ones through a trigram index,
leads.similarity decides), and then lets PostgreSQL join the records whose keys were judged alike: same company
domain, or alike company names, and alike last and first names. Each pair found is judged once more, whole, by
`person_similarity`, and stored as a DuplicatePair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CASCADE, SET_NULL, Exists, F, Max, Min, OuterRef, Q
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from accounts.models import User, Workspace
from cursive.audit import audit_record
from cursive.errors import Conflict, NotFound, ValidationFailed
from cursive.jobs import job_enqueue
from cursive.locks import lock_for_transaction

from . import normalize
from .models import DuplicatePair, Lead, Person, VerificationStatus
from .services import LEAD_FIELDS, leads_changed, leads_rescore
from .similarity import (
    _name_family,
    company_key,
    domain_key,
    first_name_similarity,
    fold,
    person_similarity,
    text_similarity,
)

# pg_trgm's `%` proposes name pairs at least this trigram-similar; leads.similarity then decides. Low on purpose:
# trigrams punish short words (Smith / Smiht share 3 of 9), and a candidate too many costs microseconds. Company
# names are not proposed by trigrams: most share a word with thousands of others ("Northpoint Labs" / "Northfield
# Labs"), and over the 36,000 company names of a million people the trigram join ran for minutes; equal names
# (after leads.similarity drops legal forms) and names within one typo are proposed instead.
NAME_TRIGRAM_LIMIT = 0.3

_COMPARED = ("first_name", "last_name", "company_name", "company_domain")
_TEMP_TABLES = (
    *(f"{prefix}_{name}" for prefix in ("map", "pair") for name in ("first", "last", "company")),
    "map_domain",
    "dup_rows",
    "dup_found",
    "dup_judged",
)


@dataclass(frozen=True)
class ScanResult:
    found: int
    removed: int
    seconds: float


def _distinct(cursor, table: str, column: str, scope: str, params: list) -> list[str]:
    cursor.execute(f"SELECT DISTINCT {column} FROM {table} {scope}", params)  # noqa: S608 (names are constants)
    return [row[0] for row in cursor.fetchall()]


def _key_map(cursor, name: str, raws: list[str], key_of) -> dict[str, int]:
    """Temp table map_<name>(raw, k): each distinct raw value with a non-empty key, and that key's number."""
    keys: dict[str, int] = {}
    cursor.execute(f"CREATE TEMP TABLE map_{name} (raw text PRIMARY KEY, k int NOT NULL) ON COMMIT DROP")
    with cursor.cursor.copy(f"COPY map_{name} (raw, k) FROM STDIN") as copy:
        for raw in raws:
            key = key_of(raw)
            if key:
                copy.write_row((raw, keys.setdefault(key, len(keys) + 1)))
    cursor.execute(f"ANALYZE map_{name}")
    return keys


def _alike_pairs(cursor, name: str, keys: dict[str, int], judge, trigram_limit: float | None, threshold: float, extra) -> int:
    """Temp table pair_<name>(a, b, sim): every ordered pair of keys judged alike (sim >= threshold), each key with
    itself included. `extra(keys)` proposes and, with a `trigram_limit`, pg_trgm's `%` too (through a trigram
    index); `judge` decides."""
    proposed = extra(keys)
    if trigram_limit is not None:
        cursor.execute(f"CREATE TEMP TABLE keys_{name} (k int PRIMARY KEY, v text NOT NULL) ON COMMIT DROP")
        with cursor.cursor.copy(f"COPY keys_{name} (k, v) FROM STDIN") as copy:
            for key, number in keys.items():
                copy.write_row((number, key))
        cursor.execute(f"CREATE INDEX ON keys_{name} USING gin (v gin_trgm_ops)")
        cursor.execute(f"ANALYZE keys_{name}")
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(trigram_limit)])
        cursor.execute(f"SELECT a.v, b.v FROM keys_{name} a JOIN keys_{name} b ON a.v %% b.v AND a.k < b.k", [])  # noqa: S608
        proposed |= set(cursor.fetchall())
        cursor.execute(f"DROP TABLE keys_{name}")
    rows = [(number, number, 1.0) for number in keys.values()]
    for a, b in proposed:
        similarity = judge(a, b)
        if similarity >= threshold:
            rows += [(keys[a], keys[b], similarity), (keys[b], keys[a], similarity)]
    cursor.execute(f"CREATE TEMP TABLE pair_{name} (a int NOT NULL, b int NOT NULL, sim real NOT NULL) ON COMMIT DROP")
    with cursor.cursor.copy(f"COPY pair_{name} (a, b, sim) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"ANALYZE pair_{name}")
    return len(rows)


def _one_edit_pairs(keys: dict[str, int]) -> set[tuple[str, str]]:
    """Keys within one typo of each other (a letter added, dropped, changed, or two neighbours swapped): they are
    equal once one letter is deleted from each (or from one). Exact lookups, so cheap at any size, and they find
    what trigrams miss in short names (Ruiz / Riuz share 1 trigram of 9)."""
    by_variant: dict[str, list[str]] = {}
    for key in keys:
        for variant in {key, *(key[:i] + key[i + 1 :] for i in range(len(key)))}:
            by_variant.setdefault(variant, []).append(key)
    pairs = set()
    for group in by_variant.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if a != b:
                    pairs.add((min(a, b), max(a, b)))
    return pairs


def _first_name_pairs(keys: dict[str, int]) -> set[tuple[str, str]]:
    """One typo, and nicknames (Bob / Robert share no trigram at all)."""
    pairs = _one_edit_pairs(keys)
    for key in keys:
        for other in _name_family(key):
            if other != key and other in keys:
                pairs.add((min(key, other), max(key, other)))
    return pairs


_FOUND_SQL = """
CREATE TEMP TABLE dup_found ON COMMIT DROP AS
SELECT a.id AS low, b.id AS high, a.ws AS ws
FROM dup_rows a
JOIN pair_last pl ON pl.a = a.l
JOIN dup_rows b ON b.d = a.d AND b.l = pl.b AND b.ws = a.ws
JOIN pair_first pf ON pf.a = a.f AND pf.b = b.f
WHERE a.d <> 0 AND a.id < b.id
UNION
SELECT a.id, b.id, a.ws
FROM dup_rows a
JOIN pair_company pc ON pc.a = a.c
JOIN pair_last pl ON pl.a = a.l
JOIN dup_rows b ON b.c = pc.b AND b.l = pl.b AND b.ws = a.ws
JOIN pair_first pf ON pf.a = a.f AND pf.b = b.f
WHERE a.c <> 0 AND a.id < b.id AND NOT (a.d <> 0 AND a.d = b.d)
"""


def duplicates_scan(*, kind: str, workspace: Workspace | None = None) -> ScanResult:
    """Find the likely duplicate pairs of the lead database (kind person) or of workspaces' leads (kind lead: one
    workspace, or every workspace when none is given) and store them as open DuplicatePairs. Pairs already merged
    or dismissed stay as they are; open pairs no longer found (a record changed or went) are removed."""
    if kind not in DuplicatePair.Kind.values:
        raise ValidationFailed(f"Unknown kind '{kind}'.", fields={"kind": ["person or lead"]})
    if kind == DuplicatePair.Kind.PERSON and workspace is not None:
        raise ValidationFailed("The lead database belongs to no workspace.", fields={"workspace": ["Leave it empty."]})
    started = time.monotonic()
    threshold = settings.FUZZY_DUPLICATE_THRESHOLD
    table = Person._meta.db_table if kind == DuplicatePair.Kind.PERSON else Lead._meta.db_table
    ws_column = "0" if kind == DuplicatePair.Kind.PERSON else "t.workspace_id"
    scope, params = ("WHERE workspace_id = %s", [workspace.pk]) if workspace else ("", [])
    with transaction.atomic(), connection.cursor() as cursor:
        # Two scans of one scope at once would race on the same pairs; the second simply waits.
        lock_for_transaction(f"duplicates_scan:{kind}:{workspace.pk if workspace else 'all'}")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        first = _key_map(cursor, "first", _distinct(cursor, table, "first_name", scope, params), fold)
        last = _key_map(cursor, "last", _distinct(cursor, table, "last_name", scope, params), fold)
        companies = _key_map(cursor, "company", _distinct(cursor, table, "company_name", scope, params), company_key)
        _key_map(cursor, "domain", _distinct(cursor, table, "company_domain", scope, params), domain_key)
        _alike_pairs(cursor, "first", first, first_name_similarity, NAME_TRIGRAM_LIMIT, threshold, extra=_first_name_pairs)
        _alike_pairs(cursor, "last", last, text_similarity, NAME_TRIGRAM_LIMIT, threshold, extra=_one_edit_pairs)
        _alike_pairs(cursor, "company", companies, text_similarity, None, threshold, extra=_one_edit_pairs)
        cursor.execute(
            f"""
            CREATE TEMP TABLE dup_rows ON COMMIT DROP AS
            SELECT t.id, {ws_column}::bigint AS ws, mf.k AS f, ml.k AS l, coalesce(mc.k, 0) AS c, coalesce(md.k, 0) AS d
            FROM {table} t
            JOIN map_first mf ON mf.raw = t.first_name
            JOIN map_last ml ON ml.raw = t.last_name
            LEFT JOIN map_company mc ON mc.raw = t.company_name
            LEFT JOIN map_domain md ON md.raw = t.company_domain
            {scope.replace("workspace_id", "t.workspace_id")}
            {"AND" if scope else "WHERE"} (mc.k IS NOT NULL OR md.k IS NOT NULL)
            """,  # noqa: S608 (table and scope are constants; values are parameters)
            params,
        )
        cursor.execute("ANALYZE dup_rows")
        cursor.execute(_FOUND_SQL)
        judged = _judge(cursor, table)
        cursor.execute("CREATE TEMP TABLE dup_judged (low bigint, high bigint, ws bigint, score numeric(4, 3)) ON COMMIT DROP")
        with cursor.cursor.copy("COPY dup_judged (low, high, ws, score) FROM STDIN") as copy:
            for row in judged:
                copy.write_row(row)
        now = timezone.now()
        cursor.execute(
            """
            INSERT INTO leads_duplicatepair (kind, workspace_id, low_id, high_id, score, status, found_at)
            SELECT %s, nullif(ws, 0), low, high, score, 'open', %s FROM dup_judged
            ON CONFLICT (kind, low_id, high_id) DO UPDATE SET score = EXCLUDED.score
            WHERE leads_duplicatepair.status = 'open' AND leads_duplicatepair.score <> EXCLUDED.score
            """,
            [kind, now],
        )
        cursor.execute(
            f"""
            DELETE FROM leads_duplicatepair d
            WHERE d.kind = %s AND d.status = 'open' {"AND d.workspace_id = %s" if workspace else ""}
              AND NOT EXISTS (SELECT 1 FROM dup_judged j WHERE j.low = d.low_id AND j.high = d.high_id)
            """,  # noqa: S608 (a constant condition; values are parameters)
            [kind, *params],
        )
        removed = cursor.rowcount
        # ON COMMIT DROP is not enough inside a caller's transaction (a test's, or a second scan of a nightly job).
        cursor.execute(f"DROP TABLE {', '.join(_TEMP_TABLES)}")
    return ScanResult(found=len(judged), removed=removed, seconds=round(time.monotonic() - started, 3))


def _judge(cursor, table: str) -> list[tuple[int, int, int, Decimal]]:
    """Each pair the keys found, judged whole by person_similarity: (low, high, workspace or 0, score)."""
    threshold = settings.FUZZY_DUPLICATE_THRESHOLD
    columns = ", ".join(f"a.{c}, b.{c}" for c in _COMPARED)
    cursor.execute(
        f"""
        SELECT f.low, f.high, f.ws, {columns} FROM dup_found f
        JOIN {table} a ON a.id = f.low JOIN {table} b ON b.id = f.high
        """  # noqa: S608 (table and columns are constants)
    )
    judged = []
    for low, high, ws, *values in cursor.fetchall():
        a = {field: values[2 * i] for i, field in enumerate(_COMPARED)}
        b = {field: values[2 * i + 1] for i, field in enumerate(_COMPARED)}
        score = person_similarity(a, b)
        if score >= threshold:
            judged.append((low, high, ws, Decimal(str(score)).quantize(Decimal("0.001"))))
    return judged


def duplicates_scan_lead_database() -> int:
    """Scheduled: the lead database's pairs; returns how many are open."""
    return duplicates_scan(kind=DuplicatePair.Kind.PERSON).found


def duplicates_scan_request(*, workspace: Workspace) -> None:
    """A workspace asks for a scan of its leads now: the worker runs it after this commit."""
    job_enqueue("leads.tasks.scan_workspace_duplicates", workspace_id=workspace.pk)


def duplicates_scan_workspaces() -> int:
    """Scheduled: every workspace's leads in one pass (pairs never cross workspaces); returns how many are open."""
    return duplicates_scan(kind=DuplicatePair.Kind.LEAD).found


# ---------------------------------------------------------------------------
# Merging


def _repoint(model, *, keep, merged) -> dict[str, int]:
    """Point every row that references `merged` (found through the model's reverse relations, so apps above
    `leads` need not be named) at `keep`. Where a unique rule would then see two rows for one record (both leads
    enrolled in one sequence), the row of `keep` stays, and the merged record's row gets what deleting the merged
    record would have given it: deleted (CASCADE), detached (SET_NULL), or the merge is refused (PROTECT: the app
    that owns the row says it must keep its record, as a paid visitor enrichment must)."""
    moved = {}
    for relation in _references(model):
        related, field = relation.related_model, relation.field
        rows = related._base_manager.filter(**{field.name: merged})
        for others, condition in _unique_sets(related, field):
            clashing = rows.filter(condition) if condition is not None else rows
            kept = related._base_manager.filter(**{field.name: keep})
            if condition is not None:
                kept = kept.filter(condition)
            clashing = clashing.filter(Exists(kept.filter(**{name: OuterRef(name) for name in others})))
            _resolve_clash(clashing, related, field)
        count = rows.update(**{field.name: keep})
        if count:
            moved[f"{related._meta.label_lower}.{field.name}"] = count
    return moved


def _references(model) -> list:
    """The model's reverse foreign keys: `_meta.related_objects` plus the hidden ones (`related_name="+"`, as a
    purchase item's lead and a visitor's lead are declared)."""
    return [
        field
        for field in model._meta.get_fields(include_hidden=True)
        if field.auto_created and not field.concrete and (field.one_to_many or field.one_to_one)
    ]


def _resolve_clash(clashing, related, field) -> None:
    on_delete = field.remote_field.on_delete
    if on_delete is CASCADE:
        try:
            clashing.delete()
        except ProtectedError as exc:
            raise Conflict(f"{related._meta.verbose_name_plural.capitalize()} of both records cannot be combined.") from exc
    elif on_delete is SET_NULL:
        clashing.update(**{field.name: None})
    elif clashing.exists():
        raise Conflict(
            f"Both records have {related._meta.verbose_name_plural} that cannot be combined, so they cannot be merged.",
            code="merge_blocked",
        )


def _unique_sets(model, field) -> list[tuple[list[str], Q | None]]:
    """The other columns of each unique rule of `model` that includes `field`, with the rule's condition."""
    sets = []
    if field.unique:
        sets.append(([], None))
    for constraint in model._meta.constraints:
        fields = list(getattr(constraint, "fields", ()) or ())
        if field.name in fields and getattr(constraint, "expressions", None) in (None, ()):
            others = [model._meta.get_field(name).attname for name in fields if name != field.name]
            sets.append((others, getattr(constraint, "condition", None)))
    for together in model._meta.unique_together:
        if field.name in together:
            sets.append(([model._meta.get_field(name).attname for name in together if name != field.name], None))
    return sets


def _pairs_after_merge(*, kind: str, keep_id: int, merged_id: int, actor) -> None:
    """The pair just merged is marked merged; the merged record's other open pairs go (the next scan finds the
    kept record's again); its dismissals carry over to the kept record, which is the same person."""
    now = timezone.now()
    low, high = sorted((keep_id, merged_id))
    DuplicatePair.objects.filter(kind=kind, low_id=low, high_id=high).update(
        status=DuplicatePair.Status.MERGED, decided_at=now, decided_by=actor
    )
    others = DuplicatePair.objects.filter(Q(low_id=merged_id) | Q(high_id=merged_id), kind=kind).exclude(low_id=low, high_id=high)
    others.filter(status=DuplicatePair.Status.OPEN).delete()
    for pair in others.filter(status=DuplicatePair.Status.DISMISSED).order_by("pk"):
        other = pair.high_id if pair.low_id == merged_id else pair.low_id
        new_low, new_high = sorted((other, keep_id))
        target = DuplicatePair.objects.filter(kind=kind, low_id=new_low, high_id=new_high).first()
        if other == keep_id or target is not None:
            if target is not None and target.status == DuplicatePair.Status.OPEN:
                target.status, target.decided_at, target.decided_by_id = pair.status, pair.decided_at, pair.decided_by_id
                target.save(update_fields=["status", "decided_at", "decided_by"])
            pair.delete()
        else:
            pair.low_id, pair.high_id = new_low, new_high
            pair.save(update_fields=["low_id", "high_id"])


def _lock_two(queryset, keep_id, merge_id) -> tuple:
    if int(keep_id) == int(merge_id):
        raise ValidationFailed("Choose two different records.", fields={"merge_id": ["The same as keep_id."]})
    rows = {row.pk: row for row in queryset.filter(pk__in=[keep_id, merge_id]).order_by("pk").select_for_update(of=("self",))}
    if len(rows) != 2:
        raise NotFound("One of the two records no longer exists: it was merged or deleted meanwhile.")
    return rows[int(keep_id)], rows[int(merge_id)]


_EMAIL_RANK = {VerificationStatus.VALID: 2, VerificationStatus.UNKNOWN: 1, VerificationStatus.INVALID: 0}


def _fill_blanks(keep, merged, fields) -> list[str]:
    taken = [field for field in fields if not getattr(keep, field) and getattr(merged, field)]
    for field in taken:
        setattr(keep, field, getattr(merged, field))
    return taken


def people_merge(*, keep_id: int, merge_id: int, actor: User) -> Person:
    """Merge person `merge_id` of the lead database into `keep_id` (staff). The kept person takes the merged one's
    email when it is better (verified over unverified, any over none) and every field it lacks; everything that
    referenced the merged person now references the kept one; the merged person is deleted. The dedup hash follows
    the email and phone the kept person ends with (docs/duplicates.md: what that means for leads and listings)."""
    with transaction.atomic():
        keep, merged = _lock_two(Person.objects.all(), keep_id, merge_id)
        merged_id = merged.pk
        taken = []
        if merged.email and (not keep.email or (merged.email_verified and not keep.email_verified)):
            keep.email, keep.email_verified = merged.email, merged.email_verified
            taken += ["email", "email_verified"]
        taken += _fill_blanks(keep, merged, [f for f in LEAD_FIELDS if f != "email"])
        if keep.company_id is None and merged.company_id is not None:
            keep.company_id = merged.company_id
            taken.append("company")
        keep.has_email, keep.has_phone, keep.has_linkedin = bool(keep.email), bool(keep.phone), bool(keep.linkedin_url)
        keep.score = max(keep.score, merged.score)
        keep.created_at = min(keep.created_at, merged.created_at)
        old_hashes = {keep.dedup_hash, merged.dedup_hash}
        moved = _repoint(Person, keep=keep, merged=merged)
        _delete(merged)
        keep.dedup_hash = normalize.dedup_hash(keep.email, keep.phone)
        keep.save()
        _pairs_after_merge(kind=DuplicatePair.Kind.PERSON, keep_id=keep.pk, merged_id=merged_id, actor=actor)
        _propose_owned_twice(old_hashes)
        audit_record(
            actor=actor,
            action="person.merge",
            target=f"person:{keep.pk}",
            kept_id=keep.pk,
            merged_id=merged_id,
            fields_taken=taken,
            references_moved=moved,
        )
    return keep


def _propose_owned_twice(hashes: set[str]) -> None:
    """A workspace that owned both merged people now holds two leads for one person: propose them as a pair in
    that workspace (its leads are its own to merge)."""
    if len(hashes) < 2:
        return
    rows = (
        Lead.objects.filter(dedup_hash__in=hashes)
        .values("workspace_id")
        .annotate(low=Min("pk"), high=Max("pk"))
        .filter(low__lt=F("high"))
    )
    for row in rows:
        low, high = Lead.objects.get(pk=row["low"]), Lead.objects.get(pk=row["high"])
        score = Decimal(str(person_similarity(low, high))).quantize(Decimal("0.001"))
        DuplicatePair.objects.get_or_create(
            kind=DuplicatePair.Kind.LEAD,
            low_id=low.pk,
            high_id=high.pk,
            defaults={"workspace_id": row["workspace_id"], "score": score},
        )


def _delete(record) -> None:
    try:
        record.delete()
    except ProtectedError as exc:
        raise Conflict(f"{record._meta.verbose_name.capitalize()} {record.pk} is still referenced and cannot go.") from exc


def leads_merge(*, workspace: Workspace, keep_id: int, merge_id: int, actor: User | None) -> Lead:
    """Merge lead `merge_id` into `keep_id`, both of `workspace`. The kept lead takes the better email and phone
    (verified over unknown over invalid, any over none; its purchase price goes with the email, as a bounce refund
    does), every field it lacks, the union of the tags, the furthest status, the earliest arrival and both
    leads' website engagement. Enrolments, visitors, purchase items and everything else that referenced the merged
    lead move to the kept one; the merged lead is deleted."""
    with transaction.atomic():
        keep, merged = _lock_two(Lead.objects.filter(workspace=workspace), keep_id, merge_id)
        merged_id = merged.pk
        taken = []
        if merged.email and (not keep.email or _EMAIL_RANK[merged.email_status] > _EMAIL_RANK[keep.email_status]):
            keep.email, keep.email_status = merged.email, merged.email_status
            keep.acquired_credits, keep.acquired_reference = merged.acquired_credits, merged.acquired_reference
            taken += ["email", "email_status", "acquired_credits", "acquired_reference"]
        if merged.phone and (not keep.phone or _EMAIL_RANK[merged.phone_status] > _EMAIL_RANK[keep.phone_status]):
            keep.phone, keep.phone_status = merged.phone, merged.phone_status
            taken += ["phone", "phone_status"]
        taken += _fill_blanks(keep, merged, [f for f in LEAD_FIELDS if f not in ("email", "phone")])
        if set(merged.tags) - set(keep.tags):
            keep.tags = sorted(set(keep.tags) | set(merged.tags))
            taken.append("tags")
        if keep.status == Lead.Status.NEW and merged.status != Lead.Status.NEW:
            keep.status = merged.status
            taken.append("status")
        if merged.created_by_id and not keep.created_by_id:
            keep.created_by_id = merged.created_by_id
        keep.pages_viewed += merged.pages_viewed
        keep.seconds_on_site += merged.seconds_on_site
        keep.created_at = min(keep.created_at, merged.created_at)
        moved = _repoint(Lead, keep=keep, merged=merged)
        _delete(merged)
        keep.dedup_hash = normalize.dedup_hash(keep.email, keep.phone)
        keep.save()
        leads_rescore(workspace=workspace, lead_ids=[keep.pk], announce=False)
        if taken:
            leads_changed(workspace=workspace, lead_ids=[keep.pk], fields=taken)
        _pairs_after_merge(kind=DuplicatePair.Kind.LEAD, keep_id=keep.pk, merged_id=merged_id, actor=actor)
        audit_record(
            actor=actor,
            action="lead.merge",
            target=f"lead:{keep.pk}",
            workspace=workspace,
            kept_id=keep.pk,
            merged_id=merged_id,
            fields_taken=taken,
            references_moved=moved,
        )
    keep.refresh_from_db(fields=["score"])
    return keep


# ---------------------------------------------------------------------------
# Deciding a pair (the pages)


def _pair_for_update(*, pair_id, kind: str, workspace: Workspace | None) -> DuplicatePair:
    pair = (
        DuplicatePair.objects.select_for_update()
        .filter(pk=pair_id, kind=kind, workspace=workspace, status=DuplicatePair.Status.OPEN)
        .first()
    )
    if pair is None:
        raise NotFound("That possible duplicate does not exist or was already dealt with.")
    return pair


def duplicate_pair_merge(*, pair_id, keep_id, actor: User, workspace: Workspace | None = None) -> Lead | Person:
    """Merge an open pair, keeping `keep_id` (one of its two records): a workspace's lead pair, or a lead-database
    pair when no workspace is given (staff)."""
    kind = DuplicatePair.Kind.LEAD if workspace is not None else DuplicatePair.Kind.PERSON
    with transaction.atomic():
        pair = _pair_for_update(pair_id=pair_id, kind=kind, workspace=workspace)
        try:
            keep_id = int(keep_id)
        except (TypeError, ValueError):
            keep_id = None
        if keep_id not in (pair.low_id, pair.high_id):
            raise ValidationFailed("Choose which of the two to keep.", fields={"keep_id": ["One of the pair."]})
        merge_id = pair.high_id if keep_id == pair.low_id else pair.low_id
        if workspace is not None:
            return leads_merge(workspace=workspace, keep_id=keep_id, merge_id=merge_id, actor=actor)
        return people_merge(keep_id=keep_id, merge_id=merge_id, actor=actor)


@transaction.atomic
def duplicate_pair_dismiss(*, pair_id, actor: User, workspace: Workspace | None = None) -> DuplicatePair:
    """Not a duplicate: the pair stays, dismissed, so no scan proposes it again."""
    kind = DuplicatePair.Kind.LEAD if workspace is not None else DuplicatePair.Kind.PERSON
    pair = _pair_for_update(pair_id=pair_id, kind=kind, workspace=workspace)
    pair.status, pair.decided_at, pair.decided_by = DuplicatePair.Status.DISMISSED, timezone.now(), actor
    pair.save(update_fields=["status", "decided_at", "decided_by"])
    audit_record(
        actor=actor,
        action=f"{kind}.duplicate_dismiss",
        target=f"{kind}:{pair.low_id}",
        workspace=workspace,
        other_id=pair.high_id,
    )
    return pair
