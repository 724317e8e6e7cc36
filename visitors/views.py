from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from cursive.errors import ApplicationError, ValidationFailed
from cursive.htmx import meaningful_query, push_url
from cursive.pagination import keyset_paginate
from cursive.views import or_404, perform
from leads import services as leads_services

from . import selectors, services
from .forms import PixelEditForm, PixelForm
from .models import Pixel, Visitor

TEST_ADVICE_AFTER = 60
TEST_GIVE_UP_AFTER = 300
VISITORS_PAGE_SIZE = 50
VISITORS_LIVE_MAX = 500
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _pixel(request, pixel_id) -> Pixel:
    return or_404(selectors.pixel_get, workspace=request.workspace, pixel_id=pixel_id)


def _refused(form: PixelForm, exc: ApplicationError) -> None:
    """The service's sentence (it quotes what was typed) on the field it names, rather than the bare hint."""
    field = next((name for name in exc.fields if name in form.fields), None)
    form.add_error(field, exc.message)


def _limit_refused(request, form: PixelForm, pixels, exc: services.PixelLimitReached) -> HttpResponse:
    form.add_error(None, exc.message)
    response = render(request, "visitors/pixels.html", {"form": form, "pixels": pixels}, status=429)
    for name, value in exc.headers().items():
        response[name] = value
    return response


@workspace_required
def pixel_list(request):
    pixels = list(selectors.workspace_pixels(workspace=request.workspace).order_by("-created_at", "-id"))
    form = PixelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pixel, _ = services.pixel_create_within_limit(workspace=request.workspace, **form.cleaned_data)
        except services.PixelLimitReached as exc:
            return _limit_refused(request, form, pixels, exc)
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            messages.success(request, f"Pixel “{pixel.name}” added: paste its snippet into your site's <head>.")
            return redirect("visitors:pixel_detail", pixel_id=pixel.pk)
    return render(request, "visitors/pixels.html", {"form": form, "pixels": pixels})


@workspace_required
def pixel_detail(request, pixel_id: int):
    pixel = _pixel(request, pixel_id)
    form = PixelEditForm(
        request.POST or None,
        initial={"name": pixel.name, "domain": pixel.domain, "auto_enrich": pixel.auto_enrich},
        prefix="edit",
    )
    if request.method == "POST" and form.is_valid():
        try:
            pixel = services.pixel_update(workspace=request.workspace, pixel_id=pixel.pk, **form.cleaned_data)
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            messages.success(request, "Pixel saved.")
            return redirect("visitors:pixel_detail", pixel_id=pixel.pk)
    context = {
        "pixel": pixel,
        "form": form,
        "test_token": secrets.token_urlsafe(12),
        "test_url": f"https://{pixel.domain}/" if pixel.domain != "localhost" else "http://localhost/",
        "collect_origin": settings.SITE_URL.rstrip("/"),
    }
    return render(request, "visitors/pixel_detail.html", context)


@workspace_required
def pixel_status(request, pixel_id: int):
    """The live install check, polled by the pixel's page."""
    return render(request, "visitors/_install_status.html", {"pixel": _pixel(request, pixel_id)})


@workspace_required
def pixel_test_check(request, pixel_id: int):
    """Polled after "Send a test pageview": did an event with the test token in its URL arrive?"""
    pixel = _pixel(request, pixel_id)
    token = request.GET.get("token", "")
    if not _TOKEN.match(token):
        raise ValidationFailed("That test has no valid token; reload the page and send a new test.")
    now = timezone.now()
    try:
        started = float(request.GET.get("started") or now.timestamp())
    except ValueError:
        started = now.timestamp()
    waited = max(0, int(now.timestamp() - started))
    context = {
        "pixel": pixel,
        "token": token,
        "started": f"{started:.0f}",
        "waited": waited,
        "found": selectors.test_pageview_seen(pixel=pixel, token=f"cursive_test={token}", now=now),
        "advise": waited >= TEST_ADVICE_AFTER,
        "give_up": waited >= TEST_GIVE_UP_AFTER,
        "collect_origin": settings.SITE_URL.rstrip("/"),
    }
    return render(request, "visitors/_test_result.html", context)


@workspace_required
@require_POST
def pixel_delete(request, pixel_id: int):
    pixel = _pixel(request, pixel_id)
    perform(
        request,
        services.pixel_delete,
        success=f"Pixel “{pixel.name}” deleted, with its visitors and events.",
        workspace=request.workspace,
        pixel_id=pixel.pk,
    )
    return redirect("visitors:pixel_list")


def _visitor_filters(request, pixels: list[Pixel]) -> selectors.VisitorFilters:
    """The page's filters; a value that is not one of the choices is ignored rather than refused."""
    query = request.GET
    period = query.get("period", "")
    pixel_id = query.get("pixel", "")
    return selectors.VisitorFilters(
        period=period if period in selectors.PERIODS else "7d",
        identified=query.get("identified") == "1",
        company=query.get("company", "").strip()[:200],
        page=query.get("page", "").strip()[:500],
        pixel_id=int(pixel_id) if pixel_id.isdecimal() and int(pixel_id) in {p.pk for p in pixels} else None,
    )


def _shown(request) -> int:
    raw = request.GET.get("shown", "")
    return min(int(raw), VISITORS_LIVE_MAX) if raw.isdecimal() and int(raw) > 0 else VISITORS_PAGE_SIZE


@workspace_required
@vary_on_headers("HX-Request")
def visitor_list(request):
    """Who's on your site. The results section re-polls itself with the filters of the form and as many rows
    as "Load more" has shown, so a live update keeps the user's filters, rows and scroll position."""
    pixels = list(selectors.workspace_pixels(workspace=request.workspace).order_by("-created_at", "-id"))
    filters = _visitor_filters(request, pixels)
    now = timezone.now()
    visitors = selectors.live_visitors(workspace=request.workspace, filters=filters, now=now)
    cursor = request.GET.get("cursor")
    try:
        page = keyset_paginate(
            visitors,
            ordering=("-last_seen", "-id"),
            cursor=cursor,
            page_size=VISITORS_PAGE_SIZE if cursor else _shown(request),
        )
    except ApplicationError:
        return redirect("visitors:visitor_list")
    shown = (_shown(request) if cursor else 0) + len(page.results)
    query = meaningful_query(request.GET, drop=("cursor", "shown")).urlencode()
    context = {
        "page": page,
        "fits": selectors.visitors_icp_fit(workspace=request.workspace, visitors=page.results),
        "filters": filters,
        "query": query,
        "more_query": f"{query}&shown={shown}" if query else f"shown={shown}",
        "shown": shown,
        "pixels": pixels,
        "periods": selectors.PERIODS,
        "now": now,
    }
    if request.htmx and cursor:
        return render(request, "visitors/visitors.html#rows", context)
    context["has_visitors"] = bool(page.results) or selectors.workspace_has_visitors(workspace=request.workspace)
    if request.htmx and request.htmx.target == "visitor-results":
        response = render(request, "visitors/visitors.html#results", context)
        # A filter change goes into the address bar; the live poll every few seconds must not fill the history.
        if request.htmx.trigger == "visitor-filters":
            push_url(response, reverse("visitors:visitor_list"), query)
        return response
    return render(request, "visitors/visitors.html", context)


def _visitor(request, visitor_id) -> Visitor:
    return or_404(selectors.visitor_get, workspace=request.workspace, visitor_id=visitor_id)


def _visitor_context(request, visitor: Visitor) -> dict:
    return {
        "visitor": visitor,
        "events": selectors.visitor_events(visitor=visitor),
        "fit": selectors.visitors_icp_fit(workspace=request.workspace, visitors=[visitor]).get(visitor.pk),
        "find_people_url": find_people_url(visitor),
        "enriched": selectors.visitor_enriched(workspace=request.workspace, visitor=visitor),
        "enrichment_price": settings.VISITOR_ENRICHMENT_PRICE,
    }


def find_people_url(visitor: Visitor) -> str | None:
    """Lead Search for the people of the visitor's company, by its domain."""
    if not visitor.company_domain:
        return None
    return f"{reverse('segments:search')}?{urlencode({'company_domain': visitor.company_domain})}"


@workspace_required
def visitor_detail(request, visitor_id: int):
    visitor = _visitor(request, visitor_id)
    context = _visitor_context(request, visitor)
    if request.htmx:
        return render(request, "visitors/_drawer.html", context)
    return render(request, "visitors/visitor_detail.html", context)


def _after_action(request, visitor_id: int):
    """The drawer again, with what the action changed (htmx), or the visitor's page."""
    if request.htmx:
        return render(request, "visitors/_drawer.html", _visitor_context(request, _visitor(request, visitor_id)))
    return redirect("visitors:visitor_detail", visitor_id=visitor_id)


@workspace_required
@require_POST
def visitor_tag(request, visitor_id: int):
    visitor = _visitor(request, visitor_id)
    if visitor.lead_id is None:
        raise ValidationFailed("This visitor is not a lead yet: only identified people become leads.")
    leads_services.leads_bulk_update(
        workspace=request.workspace, action="tag", lead_ids=[visitor.lead_id], tags=request.POST.get("tags", "")
    )
    messages.success(request, "Lead tagged.")
    return _after_action(request, visitor_id)


@workspace_required
@require_POST
def visitor_enrich(request, visitor_id: int):
    visitor = _visitor(request, visitor_id)
    perform(
        request,
        services.visitor_enrich,
        success="Filled from the lead database.",
        workspace=request.workspace,
        visitor_id=visitor.pk,
        actor=request.user,
    )
    return _after_action(request, visitor_id)
