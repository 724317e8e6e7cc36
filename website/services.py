"""Every write of the public website: contact requests, legal pages and the home page's headline test."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.validators import SINGLE_LINE_MESSAGE, is_single_line
from cursive.audit import audit_record
from cursive.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from cursive.jobs import job_enqueue

from .models import Assignment, ContactRequest, Experiment, LegalPage, Variant


def _require_staff(actor: User) -> None:
    if not (actor and actor.is_staff):
        raise PermissionDenied("Only staff can do this.")


@transaction.atomic
def contact_request_create(*, name: str, email: str, company: str, tier: str, message: str) -> ContactRequest:
    """Store a Services-page message and email it to staff once it is committed (a retried job)."""
    name, email, company, message = name.strip(), email.strip(), company.strip(), message.strip()
    fields: dict[str, list[str]] = {}
    if not name:
        fields["name"] = ["Tell us your name."]
    for field, value in (("name", name), ("company", company)):
        if value and not is_single_line(value):
            fields[field] = [SINGLE_LINE_MESSAGE]
    try:
        validate_email(email)
    except ValidationError:
        fields["email"] = ["Enter an email address we can answer, like ann@company.com."]
    if tier not in ContactRequest.Tier.values:
        fields["tier"] = ["Choose one of the three services."]
    if not message:
        fields["message"] = ["Tell us what you need."]
    if fields:
        raise ValidationFailed("Some fields need another look.", fields=fields)
    contact = ContactRequest.objects.create(name=name, email=email, company=company, tier=tier, message=message)
    job_enqueue("website.tasks.send_contact_request", contact_request_id=contact.pk)
    return contact


@transaction.atomic
def contact_requests_mark_handled(*, contact_request_ids: list[int], actor: User) -> int:
    _require_staff(actor)
    rows = list(
        ContactRequest.objects.select_for_update()
        .filter(pk__in=contact_request_ids, status=ContactRequest.Status.NEW)
        .order_by("pk")
    )
    now = timezone.now()
    for row in rows:
        row.status, row.handled_at, row.handled_by = ContactRequest.Status.HANDLED, now, actor
        row.save(update_fields=["status", "handled_at", "handled_by"])
        audit_record(actor=actor, action="contact_request.handled", target=f"contact_request:{row.pk}")
    return len(rows)


@transaction.atomic
def legal_page_update(*, page: LegalPage, title: str, body: str, actor: User) -> LegalPage:
    _require_staff(actor)
    if not title.strip() or not body.strip():
        raise ValidationFailed("A legal page needs a title and a text.")
    page.title, page.body, page.updated_by = title.strip(), body, actor
    page.save()
    audit_record(actor=actor, action="legal_page.updated", target=f"legal_page:{page.slug}")
    return page


def _locked_experiment(experiment_id: int) -> Experiment:
    experiment = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
    if experiment is None:
        raise NotFound("No such experiment.")
    return experiment


@transaction.atomic
def experiment_start(*, experiment_id: int, actor: User) -> Experiment:
    """Start showing the experiment's variants to new visitors; only one experiment runs at a time."""
    _require_staff(actor)
    experiment = _locked_experiment(experiment_id)
    if experiment.status != Experiment.Status.DRAFT:
        raise Conflict("Only a draft experiment can be started.")
    if experiment.variants.count() < 2:
        raise ValidationFailed("Add at least two headline variants before starting the test.")
    experiment.status, experiment.started_at = Experiment.Status.RUNNING, timezone.now()
    try:
        with transaction.atomic():
            experiment.save(update_fields=["status", "started_at"])
    except IntegrityError as exc:
        raise Conflict("Another experiment is running: end it before starting this one.") from exc
    audit_record(actor=actor, action="experiment.started", target=f"experiment:{experiment.pk}")
    return experiment


@transaction.atomic
def experiment_end(*, experiment_id: int, winner_id: int, actor: User) -> Experiment:
    """End the test with its winner: every visitor sees the winning headline from now on, and nobody is assigned."""
    _require_staff(actor)
    experiment = _locked_experiment(experiment_id)
    if experiment.status != Experiment.Status.RUNNING:
        raise Conflict("Only a running experiment can be ended.")
    winner = Variant.objects.filter(pk=winner_id, experiment=experiment).first()
    if winner is None:
        raise ValidationFailed("Pick the winner among this experiment's variants.")
    experiment.status, experiment.winner, experiment.ended_at = Experiment.Status.ENDED, winner, timezone.now()
    experiment.save(update_fields=["status", "winner", "ended_at"])
    audit_record(actor=actor, action="experiment.ended", target=f"experiment:{experiment.pk}", winner=winner.name)
    return experiment


@transaction.atomic
def assignment_create(*, variants: list[Variant]) -> Assignment:
    """Give a new visitor one of the running experiment's variants at random: one row per visitor, written once."""
    with connection.cursor() as cursor:
        # A visitor row lost in a server crash only undercounts visitors: not worth a disk flush on the home page.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
    return Assignment.objects.create(token=secrets.token_urlsafe(32), variant=secrets.choice(variants))


def signup_attribute(*, token: str, user: User) -> bool:
    """Count a sign-up for the variant the visitor was shown, once: a visitor converts at most once, a user is
    attributed at most once (both are unique), and only while that experiment runs."""
    try:
        with transaction.atomic():
            updated = Assignment.objects.filter(
                token=token, user__isnull=True, signed_up_at__isnull=True, variant__experiment__status=Experiment.Status.RUNNING
            ).update(user=user, signed_up_at=timezone.now())
    except IntegrityError:
        return False
    return updated == 1
