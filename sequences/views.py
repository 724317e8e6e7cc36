"""The sequence pages: the list, the builder (steps added, edited, moved and removed with htmx partial swaps, and
a preview for a chosen lead), the report with its enrolments, the mailboxes, and the lead drawer's timeline.

Every change goes through `sequences.services`; a refusal the service raises is shown by
cursive.middleware.DomainErrorMiddleware (a toast for htmx, a message on the page it came from otherwise)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from cursive.errors import ApplicationError, ValidationFailed
from cursive.forms import apply_error
from cursive.pagination import keyset_paginate
from cursive.views import or_404
from leads import selectors as lead_selectors
from segments.selectors import workspace_segments

from . import selectors, services, templating
from .forms import MAILBOX_PRESETS, NEW_STEPS, MailboxForm, SequenceForm, StepForm
from .models import Enrollment, Sequence, Step
from .transport import MailboxUnreachable

ENROLLMENTS_PAGE_SIZE = 50
ENROLLMENT_ORDERING = ("-enrolled_at", "-id")
# The builder's lead pickers (preview, enrol): the most recent leads with an address.
PICKER_LEADS = 200

SKIP_REASONS = {
    "not_found": "not found",
    "no_email": "no email",
    "invalid_email": "invalid email",
    "suppressed": "suppressed",
    "already_enrolled": "already enrolled",
    "missing_variable": "a variable has no value",
}


def _sequence(request, sequence_id) -> Sequence:
    return or_404(selectors.sequence_get, workspace=request.workspace, sequence_id=sequence_id)


def _started(sequence: Sequence) -> bool:
    """Enrolments point at step positions once a sequence has run: its steps can be edited, not removed."""
    return sequence.status != Sequence.Status.DRAFT or sequence.activated_at is not None


# --- The list ---------------------------------------------------------------------------------------------------


@workspace_required
def sequence_list(request):
    sequences = list(selectors.sequences_list_with_stats(workspace=request.workspace))
    for sequence in sequences:
        sequence.reply_rate = sequence.replied_count / sequence.sent_count if sequence.sent_count else None
    has_mailbox = selectors.mailboxes_list(workspace=request.workspace).exists()
    return render(request, "sequences/list.html", {"sequences": sequences, "has_mailbox": has_mailbox})


# --- The builder ------------------------------------------------------------------------------------------------


def _form_choices(request) -> dict:
    return {
        "mailboxes": list(selectors.mailboxes_list(workspace=request.workspace)),
        "segments": list(workspace_segments(workspace=request.workspace)),
    }


def _refused(form, exc: ApplicationError) -> None:
    """The service's sentence on the field it names (send_window is three fields here), else above the form."""
    named = {"send_window": "send_start"}
    fields = [named.get(name, name) for name in exc.fields]
    field = next((name for name in fields if name in form.fields), None)
    form.add_error(field, exc.message)


@workspace_required
def sequence_new(request):
    choices = _form_choices(request)
    if not choices["mailboxes"]:
        messages.info(request, "Connect the mailbox your sequences will send from first.")
        return redirect("sequences:mailbox_new")
    form = SequenceForm(request.POST or None, **choices)
    if request.method == "POST" and form.is_valid():
        try:
            sequence = services.sequence_create(workspace=request.workspace, data=form.changes(), created_by=request.user)
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            messages.success(request, "Sequence created: add its emails and waits below.")
            return redirect("sequences:detail", sequence_id=sequence.pk)
    return render(request, "sequences/new.html", {"form": form})


def _picker_leads(request) -> list:
    leads = lead_selectors.workspace_leads(workspace=request.workspace).exclude(email="")
    return list(leads.order_by("-created_at", "-id")[:PICKER_LEADS])


def _step_values(step: Step) -> dict:
    """What a saved step's fields show; a wait of whole days shows in days."""
    in_days = step.wait_hours and step.wait_hours % 24 == 0
    return {
        "subject": step.subject,
        "body": step.body,
        "wait": step.wait_hours // 24 if in_days else step.wait_hours,
        "wait_unit": "days" if in_days else "hours",
        "condition": step.condition,
        "path": step.condition_path,
        "if_met": step.if_met,
        "if_not_met": step.if_not_met,
    }


STEP_CHOICES = {"conditions": Step.Condition.choices, "thens": Step.Then.choices}


def _builder_context(request, sequence: Sequence, *, choice=None, **extra) -> dict:
    steps = selectors.sequence_steps(sequence=sequence)
    for step in steps:
        step.values = _step_values(step)
        step.is_first, step.is_last = step is steps[0], step is steps[-1]
    context = {
        "sequence": sequence,
        "steps": steps,
        "started": _started(sequence),
        "step_kinds": Step.Kind.choices,
        "variables": sorted(templating.VARIABLES),
        **STEP_CHOICES,
        **_preview_context(request, sequence, steps, request.GET if choice is None else choice),
    }
    context.update(extra)
    if "form" not in context:
        context["form"] = SequenceForm.for_sequence(sequence, **_form_choices(request))
    return context


@workspace_required
def sequence_detail(request, sequence_id: int):
    sequence = _sequence(request, sequence_id)
    if request.method == "POST":
        form = SequenceForm.for_sequence(sequence, request.POST, **_form_choices(request))
        if form.is_valid():
            try:
                services.sequence_update(workspace=request.workspace, sequence_id=sequence.pk, data=form.changes())
            except ApplicationError as exc:
                _refused(form, exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect("sequences:detail", sequence_id=sequence.pk)
        return render(request, "sequences/builder.html", _builder_context(request, sequence, form=form))
    return render(request, "sequences/builder.html", _builder_context(request, sequence))


@workspace_required
@require_POST
def sequence_status(request, sequence_id: int):
    sequence = _sequence(request, sequence_id)
    status = request.POST.get("status", "")
    services.sequence_update(workspace=request.workspace, sequence_id=sequence.pk, data={"status": status})
    if status == Sequence.Status.ACTIVE:
        was = "resumed" if sequence.status == Sequence.Status.PAUSED else "activated"
        messages.success(request, f"Sequence {was}: due emails go out within the send window.")
    else:
        messages.success(request, "Sequence paused: nothing is sent until you resume it.")
    if request.POST.get("back") == "list":
        return redirect("sequences:list")
    return redirect("sequences:detail", sequence_id=sequence.pk)


@workspace_required
@require_POST
def sequence_delete(request, sequence_id: int):
    sequence = _sequence(request, sequence_id)
    services.sequence_delete(workspace=request.workspace, sequence_id=sequence.pk)
    messages.success(request, f"Sequence {sequence.name} deleted, with its enrolments.")
    return redirect("sequences:list")


def _edit_steps(request, sequence: Sequence, edit) -> None:
    services.sequence_steps_edit(workspace=request.workspace, sequence_id=sequence.pk, edit=edit)


def _steps_answer(request, sequence: Sequence):
    """The steps list again after a change (htmx), with the preview out of band for the lead and email the step
    form carried (hx-include), so the preview shows the new text without a request of its own; or the builder
    (a plain form post)."""
    if not request.htmx:
        return redirect("sequences:detail", sequence_id=sequence.pk)
    sequence.refresh_from_db()
    context = _builder_context(request, sequence, choice=request.POST)
    steps = render_to_string("sequences/builder.html#steps", context, request)
    preview = render_to_string("sequences/_preview.html", {**context, "oob": True}, request)
    return HttpResponse(steps + preview)


@workspace_required
@require_POST
def step_add(request, sequence_id: int):
    sequence = _sequence(request, sequence_id)
    kind = request.POST.get("kind", "")
    if kind not in NEW_STEPS:
        raise ValidationFailed("Add an email, a wait or a condition.")
    _edit_steps(request, sequence, lambda steps: [*steps, NEW_STEPS[kind]])
    return _steps_answer(request, sequence)


def _position(steps: list, position: int) -> int:
    if not 0 <= position < len(steps):
        raise ValidationFailed("That step is no longer there; the page shows the steps as they are now.")
    return position


@workspace_required
@require_POST
def step_edit(request, sequence_id: int, position: int):
    sequence = _sequence(request, sequence_id)
    form = StepForm(request.POST)
    problems = [error for errors in form.errors.values() for error in errors]
    if not problems:

        def edit(steps: list[dict]) -> list[dict]:
            at = _position(steps, position)
            steps[at] = form.raw_step(steps[at]["type"])
            return steps

        try:
            _edit_steps(request, sequence, edit)
        except ValidationFailed as exc:
            problems = [exc.message]
    if problems:
        steps = selectors.sequence_steps(sequence=sequence)
        if not request.htmx or not 0 <= position < len(steps):
            raise ValidationFailed(problems[0])
        # Only this step's card again, with what was typed and why it was refused.
        step = Step(sequence=sequence, position=position, kind=steps[position].kind)
        step.values = request.POST
        step.is_first, step.is_last = position == 0, position == len(steps) - 1
        context = {"sequence": sequence, "step": step, "started": _started(sequence), "problems": problems, **STEP_CHOICES}
        response = render(request, "sequences/_step.html", context)
        response["HX-Retarget"] = f"#step-{position}"
        response["HX-Reswap"] = "outerHTML"
        return response
    messages.success(request, f"Step {position + 1} saved.")
    return _steps_answer(request, sequence)


@workspace_required
@require_POST
def step_move(request, sequence_id: int, position: int):
    sequence = _sequence(request, sequence_id)
    target = position - 1 if request.POST.get("direction") == "up" else position + 1

    def edit(steps: list[dict]) -> list[dict]:
        _position(steps, position)
        if 0 <= target < len(steps):
            steps[position], steps[target] = steps[target], steps[position]
        return steps

    _edit_steps(request, sequence, edit)
    return _steps_answer(request, sequence)


@workspace_required
@require_POST
def step_delete(request, sequence_id: int, position: int):
    sequence = _sequence(request, sequence_id)

    def edit(steps: list[dict]) -> list[dict]:
        del steps[_position(steps, position)]
        return steps

    _edit_steps(request, sequence, edit)
    messages.success(request, f"Step {position + 1} removed.")
    return _steps_answer(request, sequence)


def _preview_context(request, sequence: Sequence, steps: list[Step], choice) -> dict:
    """The preview's choices (`step`, a position, and `lead`, from the query or the step form that carried them)
    and the chosen email step as that lead would receive it, with the variables it has no value for."""
    email_steps = [step for step in steps if step.kind == Step.Kind.EMAIL]
    step = next((step for step in email_steps if str(step.position) == choice.get("step")), None)
    step = step or (email_steps[0] if email_steps else None)
    lead_id = choice.get("lead")
    lead = or_404(lead_selectors.lead_get, workspace=request.workspace, lead_id=lead_id) if lead_id else None
    context = {"step": step, "lead": lead, "email_steps": email_steps, "leads": _picker_leads(request)}
    if step and lead:
        values = templating.lead_values(lead)
        context.update(
            subject=templating.render(step.subject, values),
            body=templating.render(step.body, values),
            missing=templating.missing_variables([step.subject, step.body], values),
        )
    return context


@workspace_required
@require_GET
@vary_on_headers("HX-Request")
def step_preview(request, sequence_id: int):
    sequence = _sequence(request, sequence_id)
    if not request.htmx:
        return redirect(f"{reverse('sequences:detail', args=[sequence.pk])}?{urlencode(request.GET)}")
    context = _preview_context(request, sequence, selectors.sequence_steps(sequence=sequence), request.GET)
    return render(request, "sequences/_preview.html", {"sequence": sequence, **context})


@workspace_required
@require_POST
def sequence_enroll(request, sequence_id: int):
    sequence = _sequence(request, sequence_id)
    lead_ids = [int(pk) for pk in request.POST.getlist("lead_ids") if pk.isdecimal()]
    if not lead_ids:
        messages.info(request, "Choose at least one lead to enrol.")
        return redirect("sequences:detail", sequence_id=sequence.pk)
    result = services.enrollments_create(workspace=request.workspace, sequence_id=sequence.pk, lead_ids=lead_ids)
    messages.success(request, enrol_summary(result))
    return redirect("sequences:report", sequence_id=sequence.pk)


def enrol_summary(result: services.EnrolResult) -> str:
    """The flash after enrolling, e.g. "3 leads enrolled; 1 skipped (no email).", each skip reason counted."""
    text = f"{result.enrolled} lead{'' if result.enrolled == 1 else 's'} enrolled"
    if result.skipped:
        reasons: dict[str, int] = {}
        for skip in result.skipped:
            reason = skip.get("detail") or SKIP_REASONS.get(skip["reason"], skip["reason"])
            reasons[reason] = reasons.get(reason, 0) + 1
        listed = ", ".join(f"{count} {reason}" if count > 1 else reason for reason, count in reasons.items())
        text += f"; {len(result.skipped)} skipped ({listed})"
    return text + "."


# --- The report ---------------------------------------------------------------------------------------------------


@workspace_required
@vary_on_headers("HX-Request")
def sequence_report(request, sequence_id: int):
    sequence = _sequence(request, sequence_id)
    status = request.GET.get("status") or None
    if status not in Enrollment.Status.values:
        status = None
    try:
        page = keyset_paginate(
            selectors.enrollments_list(workspace=request.workspace, sequence=sequence, status=status),
            ordering=ENROLLMENT_ORDERING,
            cursor=request.GET.get("cursor") or None,
            page_size=ENROLLMENTS_PAGE_SIZE,
        )
    except ValidationFailed:
        return redirect("sequences:report", sequence_id=sequence.pk)
    context = {
        "sequence": sequence,
        "stats": selectors.sequence_stats(sequence=sequence),
        "step_stats": selectors.step_stats(sequence=sequence),
        "page": page,
        "status": status or "",
        "statuses": Enrollment.Status.choices,
        "query": urlencode({"status": status}) if status else "",
    }
    if request.htmx and request.GET.get("cursor"):
        return render(request, "sequences/report.html#enrollment-rows", context)
    return render(request, "sequences/report.html", context)


@workspace_required
@require_POST
def enrollment_stop(request, sequence_id: int, enrollment_id: int):
    sequence = _sequence(request, sequence_id)
    if not selectors.enrollments_list(workspace=request.workspace, sequence=sequence).filter(pk=enrollment_id).exists():
        raise Http404("That enrolment is not in this sequence.")
    enrollment = services.enrollment_stop(workspace=request.workspace, enrollment_id=enrollment_id)
    messages.success(request, f"{enrollment.email} stopped: no more emails from this sequence.")
    return redirect("sequences:report", sequence_id=sequence.pk)


# --- Mailboxes ------------------------------------------------------------------------------------------------------


def _mailbox_refused(form: MailboxForm, exc: ApplicationError) -> None:
    """A failed connection check's whole sentence goes on the field it names (host, password, security);
    field-by-field validation goes on each field."""
    if isinstance(exc, MailboxUnreachable):
        field = next((name for name in exc.fields if name in form.fields), None)
        form.add_error(field, exc.message)
    else:
        apply_error(form, exc)


@workspace_required
def mailbox_list(request):
    return render(request, "sequences/mailboxes.html", {"mailboxes": list(selectors.mailboxes_list(workspace=request.workspace))})


@workspace_required
def mailbox_new(request):
    preset = request.GET.get("preset", "custom")
    preset = preset if preset in MAILBOX_PRESETS else "custom"
    form = MailboxForm(request.POST) if request.method == "POST" else MailboxForm.with_preset(preset)
    if request.method == "POST" and form.is_valid():
        try:
            mailbox = services.mailbox_create(workspace=request.workspace, data=form.changes())
        except ApplicationError as exc:
            _mailbox_refused(form, exc)
        else:
            messages.success(request, f"{mailbox.email} connected: the SMTP server accepted the login.")
            return redirect("sequences:mailbox_list")
    context = {"form": form, "presets": MAILBOX_PRESETS, "preset": preset, "preset_help": MAILBOX_PRESETS[preset]["help"]}
    return render(request, "sequences/mailbox_form.html", context)


@workspace_required
def mailbox_edit(request, mailbox_id: int):
    mailbox = or_404(selectors.mailbox_get, workspace=request.workspace, mailbox_id=mailbox_id)
    form = MailboxForm.for_mailbox(mailbox, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.mailbox_update(workspace=request.workspace, mailbox_id=mailbox.pk, data=form.changes())
        except ApplicationError as exc:
            _mailbox_refused(form, exc)
        else:
            messages.success(request, f"{mailbox.email} saved.")
            return redirect("sequences:mailbox_list")
    return render(request, "sequences/mailbox_form.html", {"form": form, "mailbox": mailbox})


@workspace_required
@require_POST
def mailbox_delete(request, mailbox_id: int):
    mailbox = or_404(selectors.mailbox_get, workspace=request.workspace, mailbox_id=mailbox_id)
    services.mailbox_delete(workspace=request.workspace, mailbox_id=mailbox.pk)
    messages.success(request, f"{mailbox.email} disconnected; its passwords are deleted.")
    return redirect("sequences:mailbox_list")


# --- The lead drawer's timeline ---------------------------------------------------------------------------------


@workspace_required
@require_GET
def lead_timeline(request, lead_id: int):
    lead = or_404(lead_selectors.lead_get, workspace=request.workspace, lead_id=lead_id)
    rows = selectors.lead_enrollments(workspace=request.workspace, lead_id=lead.pk)
    return render(request, "sequences/_lead_timeline.html", {"lead": lead, "rows": rows})
