from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from cursive.errors import ApplicationError, NotFound
from cursive.forms import apply_error
from cursive.pagination import keyset_paginate

from . import selectors, services
from .forms import LeadFilterForm, LeadForm
from .models import Lead

PAGE_SIZE = 50


@workspace_required
@vary_on_headers("HX-Request")
def lead_list(request):
    form = LeadFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    leads = selectors.workspace_leads(workspace=request.workspace, **{k: v for k, v in filters.items() if v})
    try:
        page = keyset_paginate(leads, ordering=("-created_at", "-id"), cursor=request.GET.get("cursor"),
                               page_size=PAGE_SIZE)
    except ApplicationError:
        return redirect("leads:list")
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {"form": form, "page": page, "query": query.urlencode(),
               "total": selectors.workspace_lead_count(workspace=request.workspace)}
    if request.htmx and request.GET.get("cursor"):
        return render(request, "leads/list.html#rows", context)
    if request.htmx:
        return render(request, "leads/list.html#results", context)
    return render(request, "leads/list.html", context)


@workspace_required
def lead_detail(request, lead_id: int):
    try:
        lead = selectors.lead_get(workspace=request.workspace, lead_id=lead_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "leads/detail.html", {"lead": lead})


@workspace_required
def lead_new(request):
    form = LeadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(workspace=request.workspace, source=Lead.Source.MANUAL,
                                        data=form.cleaned_data, created_by=request.user)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Lead {lead} added.")
            return redirect("leads:detail", lead_id=lead.pk)
    return render(request, "leads/new.html", {"form": form})
