"""Every write to a workspace's leads."""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User, Workspace
from cursive.errors import Conflict, NotFound, ValidationFailed
from cursive.events import emit_many
from cursive.jobs import job_enqueue

from . import normalize
from .models import CompanySize, IdealCustomerProfile, Lead, Person, Seniority, Suppression, VerificationStatus
from .scoring import profile_fit, score_expression
from .signals import leads_rescored

# Read on every row of million-row uploads: built once, not per call.
_SENIORITIES = frozenset(Seniority.values)
_COMPANY_SIZES = frozenset(CompanySize.values)

LEAD_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "seniority",
    "company_name",
    "company_domain",
    "company_size",
    "industry",
    "city",
    "state",
    "zip",
    "country",
    "linkedin_url",
)


def lead_fields_clean(data: dict) -> tuple[dict, dict[str, list[str]]]:
    """Normalise the lead fields (docs/partners.md); return the clean values and the problems per field."""
    cleaned = {field: normalize.clean_text(data.get(field)) for field in LEAD_FIELDS}
    errors: dict[str, list[str]] = {}
    cleaned["email"] = normalize.normalize_email(cleaned["email"])
    if cleaned["email"] and not normalize.is_valid_email(cleaned["email"]):
        errors["email"] = ["This is not a valid email address."]
    phone = normalize.normalize_phone(cleaned["phone"])
    if phone is None:
        errors["phone"] = ["This is not a valid phone number."]
    else:
        cleaned["phone"] = phone
    if not cleaned["email"] and not cleaned["phone"] and "email" not in errors and "phone" not in errors:
        errors["email"] = ["A lead needs an email address or a phone number."]
    if cleaned["linkedin_url"] and not normalize.is_valid_linkedin_url(cleaned["linkedin_url"]):
        errors["linkedin_url"] = ["Use a LinkedIn profile URL like https://www.linkedin.com/in/name."]
    if cleaned["seniority"] and cleaned["seniority"] not in _SENIORITIES:
        errors["seniority"] = [f"Use one of: {', '.join(Seniority.values)}."]
    if cleaned["company_size"] and cleaned["company_size"] not in _COMPANY_SIZES:
        errors["company_size"] = [f"Use one of: {', '.join(CompanySize.values)}."]
    cleaned["country"] = (cleaned["country"] or "US").upper()[:2]
    cleaned["state"] = cleaned["state"].upper() if len(cleaned["state"]) == 2 else cleaned["state"]
    cleaned["company_domain"] = cleaned["company_domain"].lower()
    for field in LEAD_FIELDS:
        limit = Lead._meta.get_field(field).max_length
        if len(cleaned[field]) > limit:
            errors.setdefault(field, []).append(f"Keep this under {limit} characters.")
    return cleaned, errors


def lead_create(
    *, workspace: Workspace, source: str, data: dict, created_by: User | None = None, tags: list[str] | None = None
) -> Lead:
    if source not in Lead.Source.values:
        raise ValidationFailed(f"Unknown lead source '{source}'.", fields={"source": ["Unknown source."]})
    cleaned, errors = lead_fields_clean(data)
    if errors:
        raise ValidationFailed(fields=errors)
    lead = Lead(
        workspace=workspace,
        source=source,
        created_by=created_by,
        tags=sorted(set(tags or [])),
        dedup_hash=normalize.dedup_hash(cleaned["email"], cleaned["phone"]),
        **cleaned,
    )
    try:
        with transaction.atomic():
            lead.save()
            leads_rescore(workspace=workspace, lead_ids=[lead.pk], announce=False)
            leads_announce(workspace=workspace, lead_ids=[lead.pk])
    except IntegrityError as exc:
        raise Conflict(
            "This person is already one of your leads (same email, or same phone where there is no email).", code="duplicate_lead"
        ) from exc
    lead.refresh_from_db(fields=["score"])
    return lead


_EVENT_FIELDS = ("email", "phone", "first_name", "last_name", "title", "company_name", "company_domain", "linkedin_url")


def lead_event_data(lead: Lead) -> dict:
    """What a CRM needs of a lead in a webhook: its id and contact fields (the rest through the API)."""
    return {
        "lead_id": lead.pk,
        **{field: getattr(lead, field) for field in _EVENT_FIELDS},
        "source": lead.source,
        "status": lead.status,
        "score": lead.score,
        "tags": list(lead.tags),
    }


def leads_changed(*, workspace: Workspace, lead_ids: list[int], fields: list[str]) -> int:
    """`lead.updated` for leads whose fields changed, naming the fields, in the caller's transaction."""
    leads = Lead.objects.filter(workspace=workspace, pk__in=lead_ids).order_by("pk")
    return emit_many(
        workspace=workspace, type="lead.updated", items=[{**lead_event_data(lead), "changed": fields} for lead in leads]
    )


def leads_announce(*, workspace: Workspace, lead_ids: list[int]) -> int:
    """`lead.created` for leads just added to the workspace (after their first score), in the caller's
    transaction."""
    leads = Lead.objects.filter(workspace=workspace, pk__in=lead_ids).order_by("pk")
    return emit_many(workspace=workspace, type="lead.created", items=[lead_event_data(lead) for lead in leads])


def lead_record_visitor(*, workspace: Workspace, data: dict, source_detail: str) -> tuple[Lead, bool]:
    """The lead of a person identified on the workspace's website: created with source `pixel`, or the lead the
    workspace already has for that person (same dedup identity, whatever its source), whose blank fields the
    visitor's own details fill. Returns (lead, created). ValidationFailed when the details name nobody."""
    cleaned, errors = lead_fields_clean(data)
    if errors:
        raise ValidationFailed(fields=errors)
    dedup = normalize.dedup_hash(cleaned["email"], cleaned["phone"])
    given = {field: value for field, value in cleaned.items() if value and field != "country"}
    with transaction.atomic():
        lead, created = Lead.objects.select_for_update().get_or_create(
            workspace=workspace,
            dedup_hash=dedup,
            defaults={**cleaned, "source": Lead.Source.PIXEL, "source_detail": source_detail[:200]},
        )
        blanks = [field for field, value in given.items() if not getattr(lead, field)]
        if blanks:
            for field in blanks:
                setattr(lead, field, given[field])
            lead.save(update_fields=[*blanks, "updated_at"])
            if not created:
                leads_changed(workspace=workspace, lead_ids=[lead.pk], fields=blanks)
        if created:
            leads_rescore(workspace=workspace, lead_ids=[lead.pk], announce=False)
            leads_announce(workspace=workspace, lead_ids=[lead.pk])
    return lead, created


def lead_fill_from_person(*, workspace: Workspace, lead: Lead, person: Person) -> Lead:
    """Fill the lead's blank fields from the lead database's person (the caller has charged for it)."""
    blanks = [field for field in LEAD_FIELDS if not getattr(lead, field) and getattr(person, field)]
    for field in blanks:
        setattr(lead, field, getattr(person, field))
    changed = blanks
    if person.email_verified and lead.email == person.email and lead.email_status != VerificationStatus.VALID:
        lead.email_status = VerificationStatus.VALID
        changed = [*changed, "email_status"]
    if changed:
        lead.save(update_fields=[*changed, "updated_at"])
        leads_rescore(workspace=workspace, lead_ids=[lead.pk])
        lead.refresh_from_db(fields=["score"])
        leads_changed(workspace=workspace, lead_ids=[lead.pk], fields=changed)
    return lead


def leads_engagement_set(*, workspace: Workspace, engagement: dict[int, tuple[int, int]]) -> int:
    """Set leads' website engagement, {lead id: (pages viewed, seconds on site)}, and re-score those that
    changed; returns how many changed."""
    changed = []
    with transaction.atomic():
        for lead_id, (pages, seconds) in sorted(engagement.items()):
            updated = (
                Lead.objects.filter(workspace=workspace, pk=lead_id)
                .exclude(pages_viewed=pages, seconds_on_site=seconds)
                .update(pages_viewed=pages, seconds_on_site=seconds, updated_at=timezone.now())
            )
            if updated:
                changed.append(lead_id)
        if changed:
            leads_rescore(workspace=workspace, lead_ids=changed)
    return len(changed)


# Score bands a customer's CRM reacts to: `lead.scored` is emitted when a lead moves from one to another.
SCORE_BANDS = ((70, "hot"), (40, "warm"), (0, "cold"))


def score_band(score: int) -> str:
    return next(band for floor, band in SCORE_BANDS if score >= floor)


def score_profile(*, workspace: Workspace) -> tuple[list[str], list[str]]:
    """The workspace's ideal customer profile as the `leads_score` SQL function takes it (sizes, industries), for
    statements that insert leads already scored."""
    return profile_fit(IdealCustomerProfile.objects.filter(workspace=workspace).first())


def leads_rescore(*, workspace: Workspace, lead_ids: list[int] | None = None, announce: bool = True) -> int:
    """Score leads in one UPDATE (never a loop over rows): on arrival, nightly, and when the profile changes.
    Only rows whose score changes are written (returns how many): a night moves few leads across a recency
    boundary, and rewriting them all cost a new row version and index entries per lead. With `announce`, a
    lead whose score moved to another band emits `lead.scored`; new leads are scored unannounced (their
    `lead.created` carries the score)."""
    profile = IdealCustomerProfile.objects.filter(workspace=workspace).first()
    leads = Lead.objects.filter(workspace=workspace)
    if lead_ids is not None:
        leads = leads.filter(pk__in=lead_ids)
    score = score_expression(profile, timezone.now())
    if not announce:
        return leads.exclude(score=score).update(score=score)
    moves = list(leads.annotate(new_score=score).exclude(score=F("new_score")).values_list("pk", "score", "new_score"))
    if not moves:
        return 0
    with transaction.atomic():
        Lead.objects.filter(pk__in=[pk for pk, _, _ in moves]).update(score=score)
        crossed = {pk: score_band(old) for pk, old, new in moves if score_band(old) != score_band(new)}
        if crossed:
            leads_in_band = Lead.objects.filter(pk__in=list(crossed)).order_by("pk")
            emit_many(
                workspace=workspace,
                type="lead.scored",
                items=[
                    {**lead_event_data(lead), "band": score_band(lead.score), "previous_band": crossed[lead.pk]}
                    for lead in leads_in_band
                ],
            )
    return len(moves)


def leads_rescore_workspace(*, workspace: Workspace) -> int:
    """Re-score every lead of the workspace (a new ideal customer profile, the nightly recency pass) and, if any
    score changed, tell the apps above whose figures follow the scores (leads.signals.leads_rescored)."""
    changed = leads_rescore(workspace=workspace)
    if changed:
        leads_rescored.send(sender=Lead, workspace=workspace)
    return changed


def leads_rescore_all() -> int:
    """Nightly: recency changes with time, so every workspace's leads are re-scored; returns how many changed."""
    rescored = 0
    for workspace in Workspace.objects.filter(leads__isnull=False).distinct().order_by("pk").iterator():
        rescored += leads_rescore_workspace(workspace=workspace)
    return rescored


@transaction.atomic
def ideal_customer_profile_update(
    *, workspace: Workspace, company_sizes: list[str], industries: list[str]
) -> IdealCustomerProfile:
    unknown = sorted(set(company_sizes) - set(CompanySize.values))
    if unknown:
        raise ValidationFailed(f"Unknown company sizes: {', '.join(unknown)}.", fields={"company_sizes": unknown})
    profile, _ = IdealCustomerProfile.objects.select_for_update().get_or_create(workspace=workspace)
    profile.company_sizes = sorted(set(company_sizes))
    profile.industries = sorted({industry.strip() for industry in industries if industry.strip()})
    profile.save()
    # Re-scoring a large workspace takes a while: the worker does it, after this commit.
    job_enqueue("leads.tasks.rescore_workspace", workspace_id=workspace.pk)
    return profile


MAX_BULK = 1000
BULK_ACTIONS = ("tag", "untag", "delete", "export", "set_status", "approve", "reject")
# Approving or rejecting a lead is a verdict on its email address (the plan's verification review).
_VERDICTS = {"approve": VerificationStatus.VALID, "reject": VerificationStatus.INVALID}

_TAG_SQL = """
UPDATE leads_lead SET tags = (SELECT coalesce(array_agg(DISTINCT t ORDER BY t), '{}')
                              FROM unnest(tags || %(tags)s::varchar(50)[]) AS t), updated_at = now()
WHERE workspace_id = %(workspace)s AND id = ANY(%(ids)s) AND NOT tags @> %(tags)s::varchar(50)[]
RETURNING id
"""
_UNTAG_SQL = """
UPDATE leads_lead SET tags = array(SELECT t FROM unnest(tags) AS t WHERE t <> ALL(%(tags)s::varchar(50)[])),
                      updated_at = now()
WHERE workspace_id = %(workspace)s AND id = ANY(%(ids)s) AND tags && %(tags)s::varchar(50)[]
RETURNING id
"""


def _clean_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = tags.split(",")
    cleaned = sorted({normalize.clean_text(tag).lower()[:50] for tag in (tags or []) if normalize.clean_text(tag)})
    if not cleaned:
        raise ValidationFailed("Name at least one tag.", fields={"tags": ["At least one tag."]})
    return cleaned


@transaction.atomic
def leads_bulk_update(*, workspace: Workspace, action: str, lead_ids: list[int], tags=None, status: str | None = None) -> int:
    """Tag, untag, set the status of, approve or reject (the email is verified or not) or delete up to 1,000 of
    the workspace's leads; returns how many changed. Ids of other workspaces' leads are simply not matched."""
    if action not in ("tag", "untag", "delete", "set_status", *_VERDICTS):
        raise ValidationFailed(
            f"Unknown action '{action}'. Use one of: {', '.join(BULK_ACTIONS)}.", fields={"action": ["Unknown action."]}
        )
    if not lead_ids:
        raise ValidationFailed("Select at least one lead.", fields={"lead_ids": ["Empty."]})
    if len(lead_ids) > MAX_BULK:
        raise ValidationFailed(f"Act on at most {MAX_BULK:,} leads at once.", fields={"lead_ids": [f"At most {MAX_BULK}."]})
    ids = sorted({int(pk) for pk in lead_ids})
    if action == "delete":
        deleted, _ = Lead.objects.filter(workspace=workspace, pk__in=ids).delete()
        return deleted
    if action in _VERDICTS:
        return _leads_verdict(workspace=workspace, lead_ids=ids, email_status=_VERDICTS[action])
    with transaction.atomic():
        if action == "set_status":
            if status not in Lead.Status.values:
                raise ValidationFailed(f"Status is one of: {', '.join(Lead.Status.values)}.", fields={"status": ["Unknown."]})
            changed = list(
                Lead.objects.filter(workspace=workspace, pk__in=ids).exclude(status=status).values_list("pk", flat=True)
            )
            Lead.objects.filter(pk__in=changed).update(status=status, updated_at=timezone.now())
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    _TAG_SQL if action == "tag" else _UNTAG_SQL,
                    {"tags": _clean_tags(tags), "workspace": workspace.pk, "ids": ids},
                )
                changed = [row[0] for row in cursor.fetchall()]
        leads_changed(workspace=workspace, lead_ids=changed, fields=["status"] if action == "set_status" else ["tags"])
    return len(changed)


def _leads_verdict(*, workspace: Workspace, lead_ids: list[int], email_status: str) -> int:
    """Inside leads_bulk_update's transaction: leads without an email have nothing to verify and are left alone;
    a verified email counts in the score, so the changed leads are scored again."""
    changed = list(
        Lead.objects.filter(workspace=workspace, pk__in=lead_ids)
        .exclude(email="")
        .exclude(email_status=email_status)
        .values_list("pk", flat=True)
    )
    Lead.objects.filter(pk__in=changed).update(email_status=email_status, updated_at=timezone.now())
    leads_rescore(workspace=workspace, lead_ids=changed, announce=False)
    leads_changed(workspace=workspace, lead_ids=changed, fields=["email_status"])
    return len(changed)


@transaction.atomic
def suppressions_add(*, workspace: Workspace | None, emails, reason: str, detail: str = "") -> int:
    """Suppress addresses for a workspace (or, with no workspace, for everyone: kept as a hash only). Adding one
    twice changes nothing; returns how many were new. Invalid addresses are refused with their line."""
    cleaned: dict[str, str] = {}
    problems = []
    for position, raw in enumerate(emails, start=1):
        email = normalize.normalize_email(raw)
        if not email:
            continue
        if not normalize.is_valid_email(email):
            problems.append(f"{raw!r} (item {position}) is not an email address.")
            continue
        cleaned[normalize.suppression_hash(email)] = email
    if problems:
        raise ValidationFailed(" ".join(problems[:5]), fields={"emails": problems[:20]})
    if not cleaned:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO leads_suppression (workspace_id, email_hash, email, reason, detail, created_at)
            SELECT %s, hash, CASE WHEN %s::bigint IS NULL THEN '' ELSE email END, %s, %s, %s
            FROM unnest(%s::text[], %s::text[]) AS t(hash, email)
            ON CONFLICT DO NOTHING
            """,
            [
                workspace.pk if workspace else None,
                workspace.pk if workspace else None,
                reason,
                detail[:200],
                timezone.now(),
                list(cleaned),
                list(cleaned.values()),
            ],
        )
        return cursor.rowcount


@transaction.atomic
def suppression_remove(*, workspace: Workspace, suppression_id) -> None:
    """A workspace takes an address off its own list (a person who asked to hear from it again). Entries of
    erased people are not the workspace's to remove."""
    deleted, _ = Suppression.objects.filter(workspace=workspace, pk=suppression_id).delete()
    if not deleted:
        raise NotFound("No such suppressed address.")
