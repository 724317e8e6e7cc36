"""Every write to mailboxes, sequences, their steps and enrolments.

Sending (claims, caps, windows, retries) lives in sending.py, reading replies and bounces in inbound.py, bounce
refunds in refunds.py; this module holds what a person or an integration changes."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import User, Workspace
from cursive import crypto
from cursive.errors import Conflict, NotFound, ValidationFailed
from leads.models import Lead, Suppression
from leads.normalize import is_valid_email, normalize_email
from leads.selectors import suppressed_emails
from leads.services import suppressions_add

from . import inbound, schedule, templating, transport
from .models import WEEKDAYS, Activity, Enrollment, Mailbox, Message, Sequence, Step

MAX_MAILBOXES_PER_WORKSPACE = 20
MAX_STEPS = 20
MAX_ENROL_AT_ONCE = 1000
# Leads per pre-flight query and insert of a bulk enrolment.
ENROL_CHUNK = 5000
TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
END_OF_DAY = "24:00"  # a window that runs to midnight


# --- Mailboxes -------------------------------------------------------------------------------------------------

MAILBOX_TEXT_FIELDS = ("email", "from_name", "smtp_host", "smtp_username", "imap_host", "imap_username")
MAILBOX_NUMBER_FIELDS = {
    "smtp_port": (1, 65535),
    "imap_port": (1, 65535),
    "daily_limit": (1, 10_000),
    "hourly_limit": (1, 1_000),
    "min_gap_seconds": (0, 86_400),
}


def _mailbox_fields(data: dict, *, creating: bool) -> tuple[dict, dict[str, str]]:
    """Clean mailbox fields; passwords come back apart (plain text, encrypted only when saved)."""
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    passwords: dict[str, str] = {}
    for name in MAILBOX_TEXT_FIELDS:
        if name in data:
            value = data[name]
            if value is not None and not isinstance(value, str):
                errors[name] = ["Must be text."]
                continue
            cleaned[name] = (value or "").strip()
    for name, (low, high) in MAILBOX_NUMBER_FIELDS.items():
        if name in data:
            value = data[name]
            if value in (None, "") and name == "imap_port":
                cleaned[name] = None
                continue
            try:
                number = int(value)
            except (TypeError, ValueError):
                errors[name] = ["Must be a whole number."]
                continue
            if isinstance(value, float | bool) or not low <= number <= high:
                errors[name] = [f"Between {low:,} and {high:,}."]
                continue
            cleaned[name] = number
    for name in ("smtp_security", "imap_security"):
        if name in data:
            if data[name] not in Mailbox.Security.values:
                errors[name] = ["Choose none, starttls or tls."]
            else:
                cleaned[name] = data[name]
    if "warmup" in data:
        cleaned["warmup"] = bool(data["warmup"])
    for name in ("smtp_password", "imap_password"):
        if name in data and data[name] not in (None, ""):
            if not isinstance(data[name], str) or len(data[name]) > 1000:
                errors[name] = ["Must be text under 1,000 characters."]
            else:
                passwords[name] = data[name]
    if "email" in cleaned:
        cleaned["email"] = normalize_email(cleaned["email"])
        if not is_valid_email(cleaned["email"]):
            errors["email"] = ["Enter the mailbox's email address."]
    if creating:
        for name in ("email", "smtp_host", "smtp_port", "smtp_username"):
            if not cleaned.get(name) and name not in errors:
                errors[name] = ["Required."]
        if "smtp_password" not in passwords and "smtp_password" not in errors:
            errors["smtp_password"] = ["Required."]
        cleaned.setdefault("smtp_username", cleaned.get("email", ""))
    if errors:
        raise ValidationFailed(f"Check the mailbox: {', '.join(sorted(errors))}.", fields=errors)
    return cleaned, passwords


def _check_connections(mailbox: Mailbox, passwords: dict[str, str]) -> None:
    """Try the servers before saving: SMTP always, IMAP when it is configured."""
    transport.smtp_check(
        transport.ServerLogin(
            host=mailbox.smtp_host,
            port=mailbox.smtp_port,
            security=mailbox.smtp_security,
            username=mailbox.smtp_username,
            password=passwords.get("smtp_password") or crypto.decrypt(mailbox.smtp_password),
        )
    )
    if mailbox.imap_host:
        password = passwords.get("imap_password") or (crypto.decrypt(mailbox.imap_password) if mailbox.imap_password else "")
        inbound.imap_check(imap_login(mailbox, password=password))


def imap_login(mailbox: Mailbox, *, password: str | None = None) -> transport.ServerLogin:
    return transport.ServerLogin(
        host=mailbox.imap_host,
        port=mailbox.imap_port or (993 if mailbox.imap_security == Mailbox.Security.TLS else 143),
        security=mailbox.imap_security,
        username=mailbox.imap_username or mailbox.email,
        password=password if password is not None else crypto.decrypt(mailbox.imap_password),
    )


def smtp_login(mailbox: Mailbox) -> transport.ServerLogin:
    return transport.ServerLogin(
        host=mailbox.smtp_host,
        port=mailbox.smtp_port,
        security=mailbox.smtp_security,
        username=mailbox.smtp_username,
        password=crypto.decrypt(mailbox.smtp_password),
    )


def mailbox_create(*, workspace: Workspace, data: dict) -> Mailbox:
    """Connect a mailbox: its servers are tried first (400 `mailbox_unreachable` naming what failed), then it is
    saved with its passwords encrypted."""
    cleaned, passwords = _mailbox_fields(data, creating=True)
    mailbox = Mailbox(workspace=workspace, **cleaned)
    if mailbox.imap_host and not passwords.get("imap_password"):
        raise ValidationFailed("Give the IMAP password, or leave the IMAP host empty.", fields={"imap_password": ["Required."]})
    # Outside the transaction: a slow mail server must not hold a database connection open.
    _check_connections(mailbox, passwords)
    with transaction.atomic():
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        if Mailbox.objects.filter(workspace=workspace).count() >= MAX_MAILBOXES_PER_WORKSPACE:
            raise ValidationFailed(f"A workspace can connect at most {MAX_MAILBOXES_PER_WORKSPACE} mailboxes.")
        if Mailbox.objects.filter(workspace=workspace, email=mailbox.email).exists():
            raise Conflict(f"{mailbox.email} is already connected.", code="mailbox_exists")
        mailbox.smtp_password = crypto.encrypt(passwords["smtp_password"])
        mailbox.imap_password = crypto.encrypt(passwords["imap_password"]) if passwords.get("imap_password") else ""
        mailbox.save()
    return mailbox


def mailbox_update(*, workspace: Workspace, mailbox_id, data: dict) -> Mailbox:
    """Change a mailbox; when a server setting or password changes, the connection is tried again first. A
    mailbox that was failing is active again once its servers answer."""
    current = Mailbox.objects.filter(workspace=workspace, pk=mailbox_id).first()
    if current is None:
        raise NotFound("That mailbox does not exist in this workspace.")
    cleaned, passwords = _mailbox_fields(data, creating=False)
    for name, value in cleaned.items():
        setattr(current, name, value)
    connection_fields = {"smtp_host", "smtp_port", "smtp_username", "smtp_security", "imap_host", "imap_port"}
    connection_fields |= {"imap_username", "imap_security", "email"}
    if passwords or connection_fields & set(cleaned) or current.status == Mailbox.Status.FAILING:
        if current.imap_host and not (passwords.get("imap_password") or current.imap_password):
            raise ValidationFailed(
                "Give the IMAP password, or leave the IMAP host empty.", fields={"imap_password": ["Required."]}
            )
        _check_connections(current, passwords)
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().get(pk=current.pk)
        for name, value in cleaned.items():
            setattr(mailbox, name, value)
        if "smtp_password" in passwords:
            mailbox.smtp_password = crypto.encrypt(passwords["smtp_password"])
        if "imap_password" in passwords:
            mailbox.imap_password = crypto.encrypt(passwords["imap_password"])
        if not mailbox.imap_host:
            mailbox.imap_password = ""
        mailbox.status = Mailbox.Status.ACTIVE
        mailbox.last_error = ""
        if Mailbox.objects.filter(workspace=workspace, email=mailbox.email).exclude(pk=mailbox.pk).exists():
            raise Conflict(f"{mailbox.email} is already connected.", code="mailbox_exists")
        mailbox.save()
    return mailbox


@transaction.atomic
def mailbox_delete(*, workspace: Workspace, mailbox_id) -> None:
    mailbox = Mailbox.objects.select_for_update().filter(workspace=workspace, pk=mailbox_id).first()
    if mailbox is None:
        raise NotFound("That mailbox does not exist in this workspace.")
    names = list(mailbox.sequences.values_list("name", flat=True)[:3])
    if names:
        raise Conflict(
            f"Sequences send from this mailbox ({', '.join(names)}); move or delete them first.", code="mailbox_in_use"
        )
    mailbox.delete()


# --- Sequences and steps -----------------------------------------------------------------------------------------


@dataclass
class StepInput:
    kind: str
    subject: str = ""
    body: str = ""
    wait_hours: int = 0
    condition: str = ""
    condition_path: str = ""
    if_met: str = Step.Then.CONTINUE
    if_not_met: str = Step.Then.CONTINUE
    errors: list[str] = field(default_factory=list)


def step_input(raw) -> StepInput:
    """One step as the API and the builder send it: {"type": "email", "subject", "body"}, {"type": "wait",
    "hours"} (or "days"), {"type": "condition", "condition", "path", "if_met", "if_not_met"}."""
    if not isinstance(raw, dict):
        return StepInput(kind="", errors=["Each step is an object with a `type`."])
    kind = raw.get("type") or raw.get("kind")
    step = StepInput(kind=kind if isinstance(kind, str) else "")
    if step.kind == Step.Kind.EMAIL:
        step.subject = str(raw.get("subject") or "").strip()
        step.body = str(raw.get("body") or "").strip()
        if not step.subject:
            step.errors.append("An email step needs a subject.")
        if not step.body:
            step.errors.append("An email step needs a body.")
        if len(step.subject) > 300:
            step.errors.append("Keep the subject under 300 characters.")
        if len(step.body) > 20_000:
            step.errors.append("Keep the body under 20,000 characters.")
        unknown = templating.unknown_variables(f"{step.subject}\n{step.body}")
        if unknown:
            known = ", ".join(f"{{{{{name}}}}}" for name in sorted(templating.VARIABLES))
            step.errors.append(f"Unknown variable {', '.join('{{' + name + '}}' for name in unknown)}; use {known}.")
    elif step.kind == Step.Kind.WAIT:
        hours = raw.get("hours")
        if hours is None and raw.get("days") is not None:
            try:
                hours = int(raw["days"]) * 24
            except (TypeError, ValueError):
                hours = None
        try:
            step.wait_hours = int(hours)
        except (TypeError, ValueError):
            step.errors.append("A wait step needs `hours` (or `days`) as a whole number.")
        else:
            if isinstance(hours, float | bool) or not 1 <= step.wait_hours <= 24 * 90:
                step.errors.append("Wait between 1 hour and 90 days.")
    elif step.kind == Step.Kind.CONDITION:
        step.condition = raw.get("condition") or ""
        if step.condition not in Step.Condition.values:
            step.errors.append(f"A condition is one of {', '.join(Step.Condition.values)}.")
        step.condition_path = str(raw.get("path") or raw.get("condition_path") or "").strip()[:200]
        if step.condition == Step.Condition.VISITED and not step.condition_path:
            step.errors.append("Say which page: the path contains, for example, /pricing.")
        for name in ("if_met", "if_not_met"):
            value = raw.get(name, Step.Then.CONTINUE)
            if value not in Step.Then.values:
                step.errors.append(f"`{name}` is one of {', '.join(Step.Then.values)}.")
            else:
                setattr(step, name, value)
    else:
        step.errors.append("A step's `type` is email, wait or condition.")
    return step


def step_data(step: Step) -> dict:
    """A saved step in the shape `step_input` takes (and the API returns): only the keys of its type."""
    if step.kind == Step.Kind.EMAIL:
        return {"type": step.kind, "subject": step.subject, "body": step.body}
    if step.kind == Step.Kind.WAIT:
        return {"type": step.kind, "hours": step.wait_hours}
    return {
        "type": step.kind,
        "condition": step.condition,
        "path": step.condition_path,
        "if_met": step.if_met,
        "if_not_met": step.if_not_met,
    }


def _steps(raw_steps) -> list[StepInput]:
    if not isinstance(raw_steps, list):
        raise ValidationFailed("`steps` is a list of steps.", fields={"steps": ["A list."]})
    if len(raw_steps) > MAX_STEPS:
        raise ValidationFailed(f"A sequence has at most {MAX_STEPS} steps.", fields={"steps": ["Too many."]})
    steps = [step_input(raw) for raw in raw_steps]
    errors = {str(index): step.errors for index, step in enumerate(steps) if step.errors}
    if errors:
        first = next(iter(errors.items()))
        raise ValidationFailed(f"Step {int(first[0]) + 1}: {first[1][0]}", fields={"steps": errors})
    return steps


def _window(raw) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed('`send_window` is {"days", "start", "end"}.', fields={"send_window": ["An object."]})
    window: dict = {}
    errors = []
    if "days" in raw:
        days = raw["days"]
        if not isinstance(days, list) or not days or any(day not in WEEKDAYS for day in days):
            errors.append(f"`days` lists days among {', '.join(WEEKDAYS)}.")
        else:
            window["send_days"] = [day for day in WEEKDAYS if day in days]
    for name in ("start", "end"):
        if name in raw:
            value = str(raw[name] or "")
            match = TIME_OF_DAY.match(value)
            if name == "end" and value == END_OF_DAY:
                window["send_end"] = dt.time.max
            elif not match:
                errors.append(f"`{name}` is a time as HH:MM (`end` may be {END_OF_DAY}).")
            else:
                window[f"send_{name}"] = dt.time(int(match.group(1)), int(match.group(2)))
    if errors:
        raise ValidationFailed(" ".join(errors), fields={"send_window": errors})
    return window


def _sequence_options(workspace: Workspace, data: dict) -> dict:
    options: dict = {}
    if "name" in data:
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 120:
            raise ValidationFailed("Name the sequence (up to 120 characters).", fields={"name": ["Required."]})
        options["name"] = name
    if "mailbox_id" in data:
        mailbox = Mailbox.objects.filter(workspace=workspace, pk=_id(data["mailbox_id"])).first()
        if mailbox is None:
            raise ValidationFailed("Choose one of this workspace's mailboxes.", fields={"mailbox_id": ["Unknown mailbox."]})
        options["mailbox"] = mailbox
    for name in ("stop_on_reply", "skip_holidays", "track_opens", "website_enabled"):
        if name in data:
            if not isinstance(data[name], bool):
                raise ValidationFailed(f"`{name}` is true or false.", fields={name: ["true or false."]})
            options[name] = data[name]
    options.update(_window(data.get("send_window")))
    if "website_min_score" in data:
        value = data["website_min_score"]
        if value in (None, ""):
            options["website_min_score"] = None
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
            options["website_min_score"] = value
        else:
            raise ValidationFailed("The minimum score is 0 to 100.", fields={"website_min_score": ["0 to 100."]})
    if "website_path_contains" in data:
        options["website_path_contains"] = str(data["website_path_contains"] or "").strip()[:200]
    if "segment_id" in data:
        from segments.models import Segment

        if data["segment_id"] in (None, ""):
            options["segment"] = None
        else:
            segment = Segment.objects.filter(workspace=workspace, pk=_id(data["segment_id"])).first()
            if segment is None:
                raise ValidationFailed("Choose one of this workspace's segments.", fields={"segment_id": ["Unknown segment."]})
            options["segment"] = segment
    if options.get("send_start") and options.get("send_end") and options["send_start"] >= options["send_end"]:
        raise ValidationFailed("The send window must start before it ends.", fields={"send_window": ["Start before end."]})
    return options


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@transaction.atomic
def sequence_create(*, workspace: Workspace, data: dict, created_by: User | None = None) -> Sequence:
    if "mailbox_id" not in data:
        raise ValidationFailed("Choose the mailbox the sequence sends from.", fields={"mailbox_id": ["Required."]})
    options = _sequence_options(workspace, {"name": data.get("name"), **data})
    steps = _steps(data.get("steps", []))
    sequence = Sequence(workspace=workspace, created_by=created_by, **options)
    if sequence.send_start >= sequence.send_end:
        raise ValidationFailed("The send window must start before it ends.", fields={"send_window": ["Start before end."]})
    sequence.save()
    Step.objects.bulk_create([_step_row(sequence, position, step) for position, step in enumerate(steps)])
    return sequence


def _step_row(sequence: Sequence, position: int, step: StepInput) -> Step:
    return Step(
        sequence=sequence,
        position=position,
        kind=step.kind,
        subject=step.subject,
        body=step.body,
        wait_hours=step.wait_hours,
        condition=step.condition,
        condition_path=step.condition_path,
        if_met=step.if_met,
        if_not_met=step.if_not_met,
    )


def _sequence_for_update(*, workspace: Workspace, sequence_id) -> Sequence:
    sequence = Sequence.objects.select_for_update().filter(workspace=workspace, pk=_id(sequence_id)).first()
    if sequence is None:
        raise NotFound("That sequence does not exist in this workspace.")
    return sequence


@transaction.atomic
def sequence_update(*, workspace: Workspace, sequence_id, data: dict) -> Sequence:
    """Change a sequence's settings, status or (as a whole list) steps. A sequence that has started (active or
    paused) keeps its steps: they can be edited in place but not removed, added in between or reordered, since
    enrolments point at step positions."""
    sequence = _sequence_for_update(workspace=workspace, sequence_id=sequence_id)
    options = _sequence_options(workspace, data)
    for name, value in options.items():
        setattr(sequence, name, value)
    if sequence.send_start >= sequence.send_end:
        raise ValidationFailed("The send window must start before it ends.", fields={"send_window": ["Start before end."]})
    if "steps" in data:
        _replace_steps(sequence, _steps(data["steps"]))
    if "status" in data:
        _set_status(sequence, data["status"])
    sequence.save()
    return sequence


@transaction.atomic
def sequence_steps_edit(*, workspace: Workspace, sequence_id, edit: Callable[[list[dict]], list[dict]]) -> Sequence:
    """Change the steps from what they are at this moment, under the sequence's lock: `edit` gets the current
    steps (as `step_data` writes them) and returns the new list. Two people editing two steps of one sequence at
    once both keep their change, where sending back a list read earlier would undo the other's."""
    sequence = _sequence_for_update(workspace=workspace, sequence_id=sequence_id)
    current = [step_data(step) for step in sequence.steps.order_by("position")]
    _replace_steps(sequence, _steps(edit(current)))
    sequence.save(update_fields=["updated_at"])
    return sequence


def _replace_steps(sequence: Sequence, steps: list[StepInput]) -> None:
    current = list(sequence.steps.order_by("position"))
    if sequence.status == Sequence.Status.DRAFT and not sequence.activated_at:
        sequence.steps.all().delete()
        Step.objects.bulk_create([_step_row(sequence, position, step) for position, step in enumerate(steps)])
        return
    if len(steps) < len(current) or any(old.kind != new.kind for old, new in zip(current, steps, strict=False)):
        raise Conflict(
            "This sequence has started: its steps can be edited and new ones added at the end, not removed or "
            "reordered. Pause it and make a copy to change its shape.",
            code="sequence_started",
        )
    for old, new in zip(current, steps, strict=False):
        fresh = _step_row(sequence, old.position, new)
        fresh.pk, fresh.created_at = old.pk, old.created_at
        fresh.save()
    Step.objects.bulk_create(
        [_step_row(sequence, position, step) for position, step in enumerate(steps) if position >= len(current)]
    )


def _set_status(sequence: Sequence, status) -> None:
    if status not in (Sequence.Status.ACTIVE, Sequence.Status.PAUSED):
        raise ValidationFailed("`status` is active or paused.", fields={"status": ["active or paused."]})
    if status == Sequence.Status.ACTIVE:
        if not sequence.steps.filter(kind=Step.Kind.EMAIL).exists():
            raise Conflict("Add at least one email step before starting the sequence.", code="sequence_empty")
        if sequence.mailbox.status == Mailbox.Status.FAILING:
            raise Conflict(
                f"The mailbox {sequence.mailbox.email} is failing ({sequence.mailbox.last_error}); fix it first.",
                code="mailbox_failing",
            )
        sequence.activated_at = sequence.activated_at or timezone.now()
        transaction.on_commit(_wake_senders)
    sequence.status = status


def _wake_senders() -> None:
    from . import tasks

    tasks.wake_senders()


@transaction.atomic
def sequence_delete(*, workspace: Workspace, sequence_id) -> None:
    sequence = _sequence_for_update(workspace=workspace, sequence_id=sequence_id)
    if sequence.status == Sequence.Status.ACTIVE:
        raise Conflict("Pause the sequence before deleting it.", code="sequence_active")
    sequence.delete()


# --- Enrolment -------------------------------------------------------------------------------------------------


@dataclass
class EnrolResult:
    enrolled: int
    skipped: list[dict]


@dataclass
class EnrolManyResult:
    enrolled: int
    skipped: dict[str, int]  # how many leads were skipped for each reason


def _lead_ids(lead_ids, *, most: int | None) -> list[int]:
    if not isinstance(lead_ids, list) or not lead_ids:
        raise ValidationFailed("Send `lead_ids`, a list of lead ids.", fields={"lead_ids": ["A non-empty list."]})
    if most is not None and len(lead_ids) > most:
        raise ValidationFailed(f"Enrol at most {most:,} leads per request.", fields={"lead_ids": ["Too many."]})
    for value in lead_ids:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationFailed("Lead ids are whole numbers.", fields={"lead_ids": ["Whole numbers only."]})
    return list(dict.fromkeys(lead_ids))


def enrollments_create(*, workspace: Workspace, sequence_id, lead_ids, source: str = Enrollment.Source.MANUAL) -> EnrolResult:
    """Enrol leads after the pre-flight check: a lead is skipped, with its reason, when it has no email, the
    address is suppressed (or erased), it is already in this sequence, or an email step needs a variable the
    lead has no value for and the template gives no fallback."""
    ids = _lead_ids(lead_ids, most=MAX_ENROL_AT_ONCE)
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().filter(workspace=workspace, pk=_id(sequence_id)).first()
        if sequence is None:
            raise NotFound("That sequence does not exist in this workspace.")
        result = _enrol(workspace=workspace, sequence=sequence, lead_ids=ids, source=source, required=_required(sequence))
        _wake_after_enrolling(sequence, result.enrolled)
    return result


def enrollments_create_many(
    *, workspace: Workspace, sequence_id, lead_ids_or_queryset, source: str = Enrollment.Source.MANUAL
) -> EnrolManyResult:
    """Enrol any number of leads (a list of ids, or a queryset of leads, such as every lead matching a My Leads
    filter) with the pre-flight of `enrollments_create`, in chunks inside one transaction; the skipped leads
    are counted by reason rather than listed."""
    if isinstance(lead_ids_or_queryset, QuerySet):
        if lead_ids_or_queryset.model is not Lead:
            raise ValidationFailed("Enrol leads.")
        queryset, ids = lead_ids_or_queryset.filter(workspace=workspace), None
    else:
        queryset, ids = None, _lead_ids(lead_ids_or_queryset, most=None)
    skipped: Counter[str] = Counter()
    enrolled = 0
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().filter(workspace=workspace, pk=_id(sequence_id)).first()
        if sequence is None:
            raise NotFound("That sequence does not exist in this workspace.")
        if queryset is not None:
            ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        required = _required(sequence)
        for start in range(0, len(ids), ENROL_CHUNK):
            result = _enrol(
                workspace=workspace,
                sequence=sequence,
                lead_ids=ids[start : start + ENROL_CHUNK],
                source=source,
                required=required,
            )
            enrolled += result.enrolled
            skipped.update(item["reason"] for item in result.skipped)
        _wake_after_enrolling(sequence, enrolled)
    return EnrolManyResult(enrolled=enrolled, skipped=dict(skipped))


def _required(sequence: Sequence) -> frozenset[str]:
    texts = [text for step in sequence.steps.filter(kind=Step.Kind.EMAIL) for text in (step.subject, step.body)]
    return templating.required_variables(texts)


def _ids_array(ids: list[int]) -> RawSQL:
    """`pk__in` with the ids as one array parameter: a thousand `%s` cost more to build and parse than to run."""
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))


def _enrol(
    *, workspace: Workspace, sequence: Sequence, lead_ids: list[int], source: str, required: frozenset[str]
) -> EnrolResult:
    """Inside the caller's transaction with the sequence locked. Reads only the lead fields the pre-flight and
    the schedule need, as tuples: building a Lead per enrolled person cost more than the insert."""
    fields = dict.fromkeys(("pk", "email", "email_status", "state", "country", *templating.required_fields(required)))
    rows = (
        Lead.objects.filter(workspace=workspace, pk__in=_ids_array(lead_ids))
        .annotate(enrolled_already=Exists(Enrollment.objects.filter(sequence=sequence, lead_id=OuterRef("pk"))))
        .values_list(*fields, "enrolled_already", named=True)
    )
    leads = {row.pk: row for row in rows}
    suppressed = suppressed_emails(workspace=workspace, emails=[lead.email for lead in leads.values()])
    skipped: list[dict] = []
    accepted = []
    for lead_id in lead_ids:
        lead = leads.get(lead_id)
        if lead is None:
            skipped.append({"lead_id": lead_id, "reason": "not_found"})
        elif not lead.email:
            skipped.append({"lead_id": lead_id, "reason": "no_email"})
        elif lead.email_status == "invalid":
            skipped.append({"lead_id": lead_id, "reason": "invalid_email"})
        elif normalize_email(lead.email) in suppressed:
            skipped.append({"lead_id": lead_id, "reason": "suppressed"})
        elif lead.enrolled_already:
            skipped.append({"lead_id": lead_id, "reason": "already_enrolled"})
        else:
            missing = templating.missing_required(required, lead)
            if missing:
                skipped.append(
                    {
                        "lead_id": lead_id,
                        "reason": "missing_variable",
                        "detail": f"No value and no fallback for {', '.join('{{' + name + '}}' for name in missing)}.",
                    }
                )
            else:
                accepted.append(lead)
    enrolled = _insert_enrollments(workspace=workspace, sequence=sequence, leads=accepted, source=source)
    return EnrolResult(enrolled=enrolled, skipped=skipped)


def _wake_after_enrolling(sequence: Sequence, enrolled: int) -> None:
    if enrolled and sequence.status == Sequence.Status.ACTIVE:
        transaction.on_commit(_wake_senders)


_INSERT_ENROLLMENTS = """
    WITH added AS (
        INSERT INTO sequences_enrollment
            (workspace_id, sequence_id, lead_id, email, status, source, current_step, next_send_at, stop_reason,
             enrolled_at)
        SELECT %(workspace)s, %(sequence)s, lead_id, email, 'active', %(source)s, 0, due, '', %(now)s
        FROM unnest(%(leads)s::bigint[], %(emails)s::text[], %(due)s::timestamptz[]) AS t(lead_id, email, due)
        ON CONFLICT (sequence_id, lead_id) DO NOTHING
        RETURNING id
    )
    INSERT INTO sequences_activity (workspace_id, enrollment_id, kind, detail, created_at)
    SELECT %(workspace)s, id, 'enrolled', %(detail)s, %(now)s FROM added
"""


def _insert_enrollments(*, workspace: Workspace, sequence: Sequence, leads: list, source: str) -> int:
    """One statement for any number of leads; each lead's first step is due at the first moment the send window
    allows in the lead's time zone (schedule.py), computed here once per place rather than per lead."""
    if not leads:
        return 0
    now = timezone.now()
    due = schedule.leads_send_times(sequence=sequence, leads=leads, after=now)
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_ENROLLMENTS,
            {
                "workspace": workspace.pk,
                "sequence": sequence.pk,
                "source": source,
                "now": now,
                "leads": [lead.pk for lead in leads],
                "due": due,
                "emails": [normalize_email(lead.email) for lead in leads],
                "detail": f"From {Enrollment.Source(source).label}",
            },
        )
        return cursor.rowcount


@transaction.atomic
def enrollment_stop(*, workspace: Workspace, enrollment_id, reason: str = "Stopped by hand") -> Enrollment:
    enrollment = Enrollment.objects.select_for_update().filter(workspace=workspace, pk=_id(enrollment_id)).first()
    if enrollment is None:
        raise NotFound("That enrolment does not exist in this workspace.")
    if enrollment.status == Enrollment.Status.ACTIVE:
        enrollment_finish(enrollment, status=Enrollment.Status.STOPPED, reason=reason)
    return enrollment


def enrollment_finish(enrollment: Enrollment, *, status: str, reason: str = "", message=None) -> None:
    """End an enrolment inside the caller's transaction (the row is locked by the caller)."""
    enrollment.status = status
    enrollment.next_send_at = None
    enrollment.stop_reason = reason[:200]
    enrollment.finished_at = timezone.now()
    enrollment.save(update_fields=["status", "next_send_at", "stop_reason", "finished_at"])
    kind = {
        Enrollment.Status.COMPLETED: Activity.Kind.COMPLETED,
        Enrollment.Status.REPLIED: Activity.Kind.REPLIED,
        Enrollment.Status.BOUNCED: Activity.Kind.BOUNCED,
        Enrollment.Status.UNSUBSCRIBED: Activity.Kind.UNSUBSCRIBED,
    }.get(status, Activity.Kind.STOPPED)
    Activity.objects.create(
        workspace_id=enrollment.workspace_id, enrollment=enrollment, message=message, kind=kind, detail=reason[:300]
    )


# --- What recipients do: click, open, unsubscribe ----------------------------------------------------------------


def _message_for_update(message_pk: int) -> Message | None:
    """The message with its enrolment, both locked enrolment first: the order the sender and the mailbox reader
    lock them in, so none of them can deadlock another."""
    enrollment_id = Message.objects.filter(pk=message_pk).values_list("enrollment_id", flat=True).first()
    if enrollment_id is None:
        return None
    Enrollment.objects.select_for_update().filter(pk=enrollment_id).first()
    return Message.objects.select_for_update(of=("self",)).select_related("enrollment").filter(pk=message_pk).first()


@transaction.atomic
def message_clicked(*, message_pk: int) -> Message | None:
    """A recipient followed a link: the first click is recorded on the message and the timeline."""
    message = _message_for_update(message_pk)
    if message is None or message.clicked_at:
        return message
    message.clicked_at = timezone.now()
    message.save(update_fields=["clicked_at"])
    Activity.objects.create(workspace_id=message.workspace_id, enrollment=message.enrollment, message=message, kind="clicked")
    return message


@transaction.atomic
def message_opened(*, message_pk: int) -> Message | None:
    """The open pixel loaded (unreliable: mail apps and scanners load images themselves)."""
    message = _message_for_update(message_pk)
    if message is None or message.opened_at:
        return message
    message.opened_at = timezone.now()
    message.save(update_fields=["opened_at"])
    Activity.objects.create(workspace_id=message.workspace_id, enrollment=message.enrollment, message=message, kind="opened")
    return message


@transaction.atomic
def message_unsubscribe(*, message_pk: int, how: str) -> Message | None:
    """The recipient of this message asked to hear no more from the workspace: the address is suppressed for
    the workspace (every sequence, every later send) and the enrolment ends. Repeating it changes nothing."""
    message = _message_for_update(message_pk)
    if message is None:
        return None
    suppressions_add(
        workspace=message.enrollment.workspace, emails=[message.to_email], reason=Suppression.Reason.UNSUBSCRIBED, detail=how
    )
    if not message.unsubscribed_at:
        message.unsubscribed_at = timezone.now()
        message.save(update_fields=["unsubscribed_at"])
    enrollment = message.enrollment
    if enrollment.status == Enrollment.Status.ACTIVE:
        enrollment_finish(enrollment, status=Enrollment.Status.UNSUBSCRIBED, reason=how, message=message)
    return message
