from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from cursive.errors import ApplicationError
from cursive.htmx import meaningful_query
from cursive.pagination import keyset_paginate
from cursive.views import or_404

from . import selectors, services, stripe_gateway
from .forms import AutoReloadForm, LedgerFilterForm, ThresholdForm

LEDGER_PAGE_SIZE = 25


def _ledger_page(request):
    form = LedgerFilterForm(request.GET or None)
    kind = form.cleaned_data.get("kind") if form.is_valid() else None
    ledger = selectors.ledger(workspace=request.workspace, kind=kind or None)
    try:
        page = keyset_paginate(
            ledger, ordering=("-created_at", "-id"), cursor=request.GET.get("cursor"), page_size=LEDGER_PAGE_SIZE
        )
    except ApplicationError:  # a mangled cursor shows the first page rather than an error
        page = keyset_paginate(ledger, ordering=("-created_at", "-id"), cursor=None, page_size=LEDGER_PAGE_SIZE)
    return {"ledger_form": form, "ledger": page, "ledger_query": meaningful_query(request.GET).urlencode()}


@workspace_required
@vary_on_headers("HX-Request")
def credits_page(request):
    context = _ledger_page(request)
    if request.htmx and request.htmx.target in ("ledger", "ledger-more"):
        partial = "ledger-rows" if request.GET.get("cursor") else "ledger"
        return render(request, f"credits/page.html#{partial}", context)
    account = selectors.credit_account(workspace=request.workspace)
    context.update(
        {
            "account": account,
            "packages": selectors.active_packages(),
            "purchases": selectors.credit_purchases(workspace=request.workspace).order_by("-created_at", "-id")[:10],
            "threshold_form": ThresholdForm(initial={"low_balance_threshold": account.low_balance_threshold_custom}),
            "auto_reload_form": AutoReloadForm(
                initial={"enabled": account.auto_reload_enabled, "package": account.auto_reload_package_id}
            ),
            "billing": selectors.billing_profile(workspace=request.workspace),
            "local_checkout": stripe_gateway.uses_local_checkout(),
        }
    )
    return render(request, "credits/page.html", context)


@workspace_required
def balance_widget(request):
    account = selectors.credit_account(workspace=request.workspace)
    return render(request, "credits/_balance.html", {"account": account})


@workspace_required(manager=True)
@require_POST
def buy_package(request, package_id: int):
    purchase = services.credit_checkout_create(
        workspace=request.workspace, package_id=package_id, created_by=request.user, base_url=request.build_absolute_uri("/")
    )
    response = redirect(purchase.checkout_url)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = purchase.checkout_url
    return response


@workspace_required(manager=True)
@require_POST
def threshold_update(request):
    form = ThresholdForm(request.POST)
    if form.is_valid():
        services.credit_account_settings_update(workspace=request.workspace, **form.cleaned_data)
        messages.success(request, "Low-balance alert updated.")
    else:
        messages.error(request, "Enter the threshold as a number of credits, e.g. 50.")
    return redirect("credits:page")


@workspace_required(manager=True)
@require_POST
def auto_reload_update(request):
    form = AutoReloadForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the packages.")
        return redirect("credits:page")
    package = form.cleaned_data["package"]
    try:
        account = services.credit_auto_reload_update(
            workspace=request.workspace,
            enabled=form.cleaned_data["enabled"],
            package_id=package.pk if package else None,
            actor=request.user,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Auto-reload is on." if account.auto_reload_enabled else "Auto-reload is off.")
    return redirect("credits:page")


@workspace_required
def checkout_return(request, credit_purchase_id: int):
    purchase = or_404(selectors.credit_purchase_get, workspace=request.workspace, purchase_id=credit_purchase_id)
    context = {"purchase": purchase, "result": request.GET.get("result", "success")}
    if request.htmx:
        return render(request, "credits/checkout_return.html#status", context)
    return render(request, "credits/checkout_return.html", context)
