import json

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from cursive.errors import ApplicationError, ValidationFailed
from cursive.forms import apply_error
from cursive.htmx import meaningful_query, push_url
from cursive.pagination import keyset_paginate
from cursive.replicas import replica_alias
from cursive.views import or_404

from . import duplicates, selectors, services
from .api import export_response
from .export import gated_export
from .filters import FILTER_LABELS, page_lead_filters
from .forms import LeadForm, ProfileForm
from .models import CompanySize, Lead
from .scoring import score_factors, score_total

PAGE_SIZE = 50
MATCHING_CAP = 10_000


def _filters_from(query: QueryDict):
    filters, errors = page_lead_filters(query)
    return filters or selectors.LeadFilters(), errors


@workspace_required
@vary_on_headers("HX-Request")
def lead_list(request):
    filters, errors = _filters_from(request.GET)
    leads = selectors.workspace_leads(workspace=request.workspace, filters=filters)
    if "non_field_errors" in errors:
        leads = leads.none()
    try:
        page = keyset_paginate(
            leads, ordering=selectors.SORTS[filters.sort], cursor=request.GET.get("cursor"), page_size=PAGE_SIZE
        )
    except ApplicationError:
        return redirect("leads:list")
    context = {
        "page": page,
        "filters": filters,
        "errors": errors,
        "query": meaningful_query(request.GET).urlencode(),
        "statuses": Lead.Status.choices,
        "filter_labels": FILTER_LABELS,
    }
    if request.htmx and request.GET.get("cursor"):
        return render(request, "leads/list.html#rows", context)
    # Counting a huge filtered set costs more than the page: past the cap, say "10,000+".
    context["matching_cap"] = MATCHING_CAP
    context["matching"], context["matching_capped"] = (
        (0, False)
        if "non_field_errors" in errors
        else selectors.workspace_leads_matching(workspace=request.workspace, filters=filters, cap=MATCHING_CAP)
    )
    # The empty state tells "no leads match" from "no leads yet", on a live filter change too.
    context["total"] = selectors.workspace_lead_count(workspace=request.workspace)
    if request.htmx and request.htmx.target == "lead-results":
        return push_url(render(request, "leads/list.html#results", context), reverse("leads:list"), context["query"])
    context.update(
        {
            "duplicate_count": selectors.workspace_duplicate_count(workspace=request.workspace),
            "sources": Lead.Source.choices,
            "tags": selectors.workspace_tags(workspace=request.workspace),
            "since": timezone.now().isoformat(),
        }
    )
    return render(request, "leads/list.html", context)


def _lead(request, lead_id) -> Lead:
    return or_404(selectors.lead_get, workspace=request.workspace, lead_id=lead_id)


@workspace_required
def lead_detail(request, lead_id: int):
    lead = _lead(request, lead_id)
    factors = score_factors(lead, selectors.ideal_customer_profile(workspace=request.workspace), timezone.now())
    context = {"lead": lead, "factors": factors, "factor_total": score_total(factors)}
    if request.htmx:
        return render(request, "leads/_drawer.html", context)
    return render(request, "leads/detail.html", context)


@workspace_required
def lead_new(request):
    form = LeadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(
                workspace=request.workspace, source=Lead.Source.MANUAL, data=form.cleaned_data, created_by=request.user
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Lead {lead} added.")
            return redirect("leads:detail", lead_id=lead.pk)
    return render(request, "leads/new.html", {"form": form})


def selected_lead_ids(request) -> list[int]:
    """The leads a bulk action of My Leads applies to: the ticked ones, or every lead matching the filters (at
    most 1,000). Bulk actions other apps add to the page (sequences) read their selection here too."""
    if request.POST.get("scope") == "all":
        filters, _ = _filters_from(QueryDict(request.POST.get("query", "")))
        return list(
            selectors.workspace_leads(workspace=request.workspace, filters=filters)
            .order_by(*selectors.SORTS[filters.sort])
            .values_list("pk", flat=True)[: services.MAX_BULK]
        )
    return [int(pk) for pk in request.POST.getlist("lead_ids") if pk.isdecimal()]


def matching_leads(request):
    """Every lead matching the filters a bulk action was posted from, uncapped: for actions that work through
    any number of leads in chunks (sequences' "Add to sequence")."""
    filters, _ = _filters_from(QueryDict(request.POST.get("query", "")))
    return selectors.workspace_leads(workspace=request.workspace, filters=filters)


def list_url(request) -> str:
    """My Leads with the filters the bulk action was posted from."""
    return f"{reverse('leads:list')}?{request.POST.get('query', '')}".rstrip("?")


@workspace_required
@require_POST
def lead_bulk(request):
    """Act on the ticked leads, or on every lead matching the filters (at most 1,000)."""
    action = request.POST.get("action", "")
    ids = selected_lead_ids(request)
    back = list_url(request)
    if not ids:
        messages.info(request, "Tick at least one lead first.")
        return redirect(back)
    if action == "export":
        leads = selectors.workspace_leads(workspace=request.workspace).filter(pk__in=ids).order_by("-score", "-id")
        return export_response(leads, "cursive-leads-selection.csv")
    changed = services.leads_bulk_update(
        workspace=request.workspace, action=action, lead_ids=ids, tags=request.POST.get("tags"), status=request.POST.get("status")
    )
    done = {
        "tag": "tagged",
        "untag": "untagged",
        "delete": "deleted",
        "set_status": "updated",
        "approve": "approved: email verified",
        "reject": "rejected: email invalid",
    }[action]
    messages.success(request, f"{changed} lead{'s' if changed != 1 else ''} {done}.")
    return redirect(back)


@gated_export
@workspace_required
def lead_export(request):
    filters, errors = _filters_from(request.GET)
    if errors:
        messages.error(request, "Fix the filters before exporting.")
        return redirect("leads:list")
    leads = selectors.workspace_leads(workspace=request.workspace, filters=filters).order_by(*selectors.SORTS[filters.sort])
    return export_response(leads.using(replica_alias(workspace=request.workspace)), "cursive-leads.csv")


# How a toast names where new leads came from, per source: (one place, several places of that source).
ARRIVAL_ORIGINS = {
    Lead.Source.MANUAL: ("added by hand", "added by hand"),
    Lead.Source.PIXEL: ("from your website", "from your website"),
    Lead.Source.MARKETPLACE: ("bought in the Marketplace", "bought in the Marketplace"),
    Lead.Source.DATABASE: ("from your {detail}", "from your segments"),
    Lead.Source.ENRICHMENT: ("from your {detail}", "from your enrichments"),
    Lead.Source.PARTNER_UPLOAD: ("from a partner upload", "from partner uploads"),
}
ARRIVAL_SOURCES_NAMED = 3


def arrival_message(groups: list[dict]) -> str:
    """The toast's words for leads that arrived, from the rows of selectors.new_leads_since (a count per source
    and source detail): "1 new lead added by hand.", "5 new leads: 3 from your website, 2 bought in the Marketplace."."""
    by_source: dict[str, dict] = {}
    for group in groups:
        entry = by_source.setdefault(group["source"], {"count": 0, "details": set()})
        entry["count"] += group["count"]
        entry["details"].add(group["source_detail"])
    parts = []
    for source, entry in sorted(by_source.items(), key=lambda item: -item[1]["count"]):
        one, several = ARRIVAL_ORIGINS[source]
        # A segment or an enriched file is named when all of the source's new leads came from that one.
        if len(entry["details"]) > 1:
            origin = several
        else:
            (detail,) = entry["details"]
            origin = several if "{detail}" in one and not detail else one.format(detail=detail)
        parts.append((entry["count"], origin))
    total = sum(count for count, _ in parts)
    leads = f"{total:,} new lead{'s' if total != 1 else ''}"
    if len(parts) == 1:
        return f"{leads} {parts[0][1]}."
    named = [f"{count:,} {origin}" for count, origin in parts[:ARRIVAL_SOURCES_NAMED]]
    rest = sum(count for count, _ in parts[ARRIVAL_SOURCES_NAMED:])
    if rest:
        named.append(f"{rest:,} from elsewhere")
    return f"{leads}: {', '.join(named)}."


@workspace_required
def lead_updates(request):
    """Polled every few seconds by every dashboard page: announces leads that arrived since the last poll."""
    try:
        since = parse_datetime(request.GET.get("since", "")) or timezone.now()
    except ValueError as exc:  # well-formed but impossible, such as 30 February
        raise ValidationFailed("`since` is not a real date and time.", fields={"since": ["Not a date."]}) from exc
    now = timezone.now()
    groups = selectors.new_leads_since(workspace=request.workspace, since=since)
    response = render(request, "leads/_updates.html", {"since": now.isoformat()})
    if groups:
        response["HX-Trigger"] = json.dumps({"toast": {"message": arrival_message(groups), "level": "info"}, "leads-arrived": {}})
    return response


@workspace_required
def scoring_profile(request):
    profile = selectors.ideal_customer_profile(workspace=request.workspace)
    form = ProfileForm(
        request.POST or None,
        initial={
            "company_sizes": profile.company_sizes if profile else [],
            "industries": ", ".join(profile.industries) if profile else "",
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.ideal_customer_profile_update(workspace=request.workspace, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, "Ideal customer profile saved; your leads are being re-scored.")
            return redirect("leads:profile")
    return render(request, "leads/profile.html", {"form": form, "sizes": CompanySize.choices})


@workspace_required
def duplicate_list(request):
    """Possible duplicates among the workspace's leads, side by side, to merge or dismiss."""
    cards = selectors.workspace_duplicate_cards(workspace=request.workspace)
    return render(request, "leads/duplicates.html", {"cards": cards})


@workspace_required
@require_POST
def duplicate_merge(request, pair_id: int):
    or_404(selectors.duplicate_pair_get, workspace=request.workspace, pair_id=pair_id)
    try:
        kept = duplicates.duplicate_pair_merge(
            pair_id=pair_id, keep_id=request.POST.get("keep_id"), actor=request.user, workspace=request.workspace
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Merged into {kept}: one lead now, with the best of both.")
    return redirect("leads:duplicates")


@workspace_required
@require_POST
def duplicate_dismiss(request, pair_id: int):
    or_404(selectors.duplicate_pair_get, workspace=request.workspace, pair_id=pair_id)
    try:
        duplicates.duplicate_pair_dismiss(pair_id=pair_id, actor=request.user, workspace=request.workspace)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Kept apart: this pair will not be proposed again.")
    return redirect("leads:duplicates")


@workspace_required
@require_POST
def duplicate_scan(request):
    duplicates.duplicates_scan_request(workspace=request.workspace)
    messages.info(request, "Looking for duplicates among your leads; reload this page in a minute.")
    return redirect("leads:duplicates")
