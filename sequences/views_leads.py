"""The "Add to sequence" bulk action of My Leads. It lives here because leads must not import sequences: the
My Leads bar posts this action to this view, which reads the selection the way the bar's other actions do."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from cursive.errors import ApplicationError
from leads.views import list_url, matching_leads, selected_lead_ids

from . import selectors, services
from .models import Enrollment, Sequence

SKIP_REASONS = {
    "no_email": "without email",
    "invalid_email": "with an invalid email",
    "suppressed": "suppressed",
    "already_enrolled": "already enrolled",
    "missing_variable": "missing a template variable",
    "not_found": "no longer in your leads",
}


def enrol_message(result: services.EnrolResult | services.EnrolManyResult) -> str:
    """What happened, as "Enrolled 12; skipped 3: 2 without email, 1 already enrolled"."""
    if isinstance(result, services.EnrolManyResult):
        counts = result.skipped
    else:
        counts = {}
        for item in result.skipped:
            counts[item["reason"]] = counts.get(item["reason"], 0) + 1
    if not counts:
        return f"Enrolled {result.enrolled:,}."
    reasons = ", ".join(f"{count:,} {SKIP_REASONS.get(reason, reason)}" for reason, count in counts.items())
    return f"Enrolled {result.enrolled:,}; skipped {sum(counts.values()):,}: {reasons}."


@workspace_required
@require_POST
def enrol_from_leads(request):
    back = list_url(request)
    # "All matching" takes every lead the filters match, past the 1,000 of the other bulk actions.
    everyone = request.POST.get("scope") == "all"
    leads = matching_leads(request) if everyone else selected_lead_ids(request)
    if not (leads.exists() if everyone else leads):
        messages.info(request, "Tick at least one lead first.")
        return redirect(back)
    sequence_id = request.POST.get("sequence_id", "")
    if not sequence_id.isdecimal():
        messages.error(request, "Choose the sequence to add the leads to.")
        return redirect(back)
    try:
        if everyone:
            result = services.enrollments_create_many(
                workspace=request.workspace,
                sequence_id=int(sequence_id),
                lead_ids_or_queryset=leads,
                source=Enrollment.Source.MANUAL,
            )
        else:
            result = services.enrollments_create(
                workspace=request.workspace, sequence_id=int(sequence_id), lead_ids=leads, source=Enrollment.Source.MANUAL
            )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    message = enrol_message(result)
    sequence = selectors.sequence_get(workspace=request.workspace, sequence_id=sequence_id)
    if result.enrolled and sequence.status != Sequence.Status.ACTIVE:
        message += " They are sent to once the sequence is active."
    (messages.success if result.enrolled else messages.warning)(request, message)
    return redirect(back)
