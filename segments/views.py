import json
import uuid

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from credits.selectors import credit_balance
from cursive.api.idempotency import request_fingerprint, run_once
from cursive.errors import ApplicationError, Conflict, ValidationFailed
from cursive.filtering import labelled
from cursive.htmx import push_url
from cursive.replicas import replica_reads
from cursive.views import or_404, safe_next, safe_referer
from leads.models import CompanySize, Person, Seniority

from . import selectors, services
from .filters import FILTER_LABELS
from .forms import filters_from_query, query_from_filters
from .models import Segment

FACETS_SECONDS = 600
SAMPLE_SIZE = 10


def _facets() -> dict:
    """Industries and states on offer; a DISTINCT over millions of people is worth caching for minutes."""
    return cache.get_or_set(
        "lead-search-facets",
        lambda: {
            name: list(Person.objects.order_by(name).values_list(name, flat=True).distinct().exclude(**{name: ""})[:100])
            for name in ("industry", "state")
        },
        FACETS_SECONDS,
    )


def _search_context(raw: dict) -> dict:
    """Counts over the valid filters; each invalid one is left out and reported by the label the form shows."""
    raw, errors = dict(raw), {}
    while True:
        try:
            filters = services.validated_filters(raw)
            break
        except ValidationFailed as exc:
            bad = {key: problems for key, problems in exc.fields["filters"].items() if key in raw}
            if not bad:
                return {"errors": {"filters": [exc.message]}, "filters": raw, "count": None, "sample": []}
            for key, problems in bad.items():
                errors[key] = [labelled(key, problem, FILTER_LABELS) for problem in problems]
                raw.pop(key)
    return {
        "filters": filters,
        "errors": errors,
        "count": services.search_count(filters=filters),
        "sample": services.search_sample(filters=filters, limit=SAMPLE_SIZE),
        "filters_json": json.dumps(filters),
        "query": query_from_filters(filters),
    }


def _form_context(filters: dict) -> dict:
    return {
        "facets": _facets(),
        "sizes": CompanySize.choices,
        "seniorities": Seniority.choices,
        "booleans": [
            ("has_email", "Email"),
            ("has_phone", "Phone"),
            ("has_linkedin", "LinkedIn"),
            ("email_verified", "Verified email"),
        ],
        "f": filters,
    }


@workspace_required
@vary_on_headers("HX-Request")
def search(request):
    with replica_reads(workspace=request.workspace):
        context = _search_context(filters_from_query(request.GET))
    if context["count"] is not None:
        services.lead_search_record(workspace=request.workspace, filters=context["filters"])
    if request.htmx and request.htmx.target == "search-results":
        return push_url(
            render(request, "segments/search.html#results", context), reverse("segments:search"), context.get("query", "")
        )
    with replica_reads(workspace=request.workspace):
        context.update(_form_context(context["filters"]))
    return render(request, "segments/search.html", context)


@workspace_required
@require_POST
def save_search(request):
    try:
        raw = json.loads(request.POST.get("filters") or "{}")
        segment = services.segment_create(
            workspace=request.workspace, name=request.POST.get("name", ""), filters=raw, created_by=request.user
        )
    except (ValueError, ApplicationError) as exc:
        messages.error(request, getattr(exc, "message", "Those filters could not be read; search again."))
        return redirect(safe_referer(request) or "segments:search")
    services.segment_preview(workspace=request.workspace, segment_id=segment.pk, actor=request.user)
    messages.success(request, f"Saved segment “{segment.name}”.")
    return redirect("segments:detail", segment_id=segment.pk)


@workspace_required
def segment_list(request):
    status = request.GET.get("status") or "active"
    if status not in Segment.Status.values:
        return redirect("segments:list")
    segments = selectors.segment_performance(workspace=request.workspace).filter(status=status)
    return render(
        request,
        "segments/list.html",
        {
            "segments": segments.order_by("-updated_at", "-id"),
            "status": status,
            "statuses": Segment.Status.choices,
            "settings": selectors.segment_settings(workspace=request.workspace),
        },
    )


def _segment(request, segment_id) -> Segment:
    return or_404(selectors.segment_get, workspace=request.workspace, segment_id=segment_id)


@workspace_required
def segment_detail(request, segment_id: int):
    segment = _segment(request, segment_id)
    context = {
        "segment": segment,
        "runs": selectors.segment_runs(segment=segment)[:20],
        "balance": credit_balance(workspace=request.workspace),
        "pull_key": uuid.uuid4().hex,
        **_form_context(segment.filters),
    }
    return render(request, "segments/detail.html", context)


@workspace_required
@require_POST
def segment_autosave(request, segment_id: int):
    """Edits save as they are typed: the form posts itself (debounced) and gets a status line back."""
    _segment(request, segment_id)
    changes = {
        "name": request.POST.get("name", ""),
        "description": request.POST.get("description", ""),
        "filters": filters_from_query(request.POST),
    }
    if request.POST.get("auto_pull_per_day", "").strip().isdecimal():
        changes["auto_pull_per_day"] = int(request.POST["auto_pull_per_day"])
    try:
        segment = services.segment_update(workspace=request.workspace, segment_id=segment_id, **changes)
    except ApplicationError as exc:
        return render(request, "segments/_autosave.html", {"error": exc.message}, status=200)
    return render(request, "segments/_autosave.html", {"segment": segment})


def _pull_once(request, segment: Segment) -> None:
    """A pull from the page: the form's one-time key makes a second submit of the same form (a double click,
    a resent POST) show the first pull's result instead of pulling and charging again."""
    limit = int(request.POST.get("limit") or 0)

    def pull():
        run = services.segment_pull(workspace=request.workspace, segment_id=segment.pk, limit=limit, actor=request.user)
        return 200, {"pulled": run.pulled, "skipped_owned": run.skipped_owned, "credits_charged": f"{run.credits_charged:.2f}"}

    key = request.POST.get("idempotency_key", "").strip()
    if key:
        fingerprint = request_fingerprint("POST", request.path, {"mode": "pull", "limit": limit})
        try:
            _, result, replayed = run_once(workspace=request.workspace, key=key, fingerprint=fingerprint, call=pull, atomic=True)
        except Conflict as exc:
            if exc.code == "idempotency_in_progress":
                messages.info(request, "This pull is already under way: its result shows in the history below.")
            elif exc.code == "idempotency_key_reused":
                messages.error(request, "This form was already used for another pull; reload the page to pull again.")
            else:
                raise
            return
    else:
        (_, result), replayed = pull(), False
    pulled = result["pulled"]
    messages.success(
        request,
        f"{'This form was sent twice; the pull was already done. ' if replayed else ''}"
        f"Pulled {pulled} new lead{'s' if pulled != 1 else ''} into My Leads "
        f"for {result['credits_charged']} credits ({result['skipped_owned']} already yours).",
    )


@workspace_required
@require_POST
def segment_run(request, segment_id: int):
    segment = _segment(request, segment_id)
    try:
        if request.POST.get("mode") == "pull":
            _pull_once(request, segment)
        else:
            run = services.segment_preview(workspace=request.workspace, segment_id=segment.pk, actor=request.user)
            messages.info(request, f"“{segment.name}” matches {run.count:,} people.")
    except ValueError:
        messages.error(request, "Say how many people to pull.")
    return redirect(safe_next(request) or reverse("segments:detail", args=[segment.pk]))


@workspace_required
@require_POST
def segment_action(request, segment_id: int):
    segment = _segment(request, segment_id)
    action = request.POST.get("action")
    if action == "duplicate":
        copy = services.segment_duplicate(workspace=request.workspace, segment_id=segment.pk, created_by=request.user)
        messages.success(request, f"Duplicated as “{copy.name}”.")
        return redirect("segments:detail", segment_id=copy.pk)
    if action == "delete":
        services.segment_delete(workspace=request.workspace, segment_id=segment.pk)
        messages.success(request, f"Deleted “{segment.name}”.")
        return redirect("segments:list")
    if action in Segment.Status.values:
        services.segment_update(workspace=request.workspace, segment_id=segment.pk, status=action)
        messages.success(request, f"“{segment.name}” is now {action}.")
        return redirect(safe_next(request) or reverse("segments:list"))
    raise Http404("Unknown action.")


@workspace_required(manager=True)
@require_POST
def settings_update(request):
    services.segment_settings_update(
        workspace=request.workspace, auto_pull_daily_credit_cap=request.POST.get("auto_pull_daily_credit_cap", "0")
    )
    messages.success(request, "Daily cap for automatic pulls saved.")
    return redirect("segments:list")
