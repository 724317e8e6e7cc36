from decimal import Decimal

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from credits.selectors import credit_balance
from cursive.errors import ApplicationError
from cursive.filtering import valid_filters
from cursive.htmx import meaningful_query, push_url
from cursive.pagination import keyset_paginate
from cursive.replicas import reads_from_replica
from cursive.views import or_404, perform, safe_next
from leads.export import gated_export
from leads.models import CompanySize, Seniority

from . import cart, selectors, services
from .api import purchase_csv_response
from .filters import FILTER_LABELS, ListingFilterSerializer
from .models import LeadPurchase, Listing
from .templatetags.listing_cards import cart_button

PAGE_SIZE = 25
# A buyer picks leads a page at a time: past a thousand, how many more match changes no choice, and counting them
# would cost more than the page.
RESULT_COUNT_CAP = 1_000
AGE_CHOICES = [(1, "Last 24 hours"), (7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days")]


def _cart_context(request) -> dict:
    ids = cart.cart_ids(request)
    listings = list(selectors.listings_by_ids(ids=ids)) if ids else []
    available = [listing for listing in listings if listing.status == listing.Status.AVAILABLE]
    return {
        "cart_listings": listings,
        "cart_ids": {listing.pk for listing in listings},
        "cart_total": sum((listing.price for listing in available), Decimal("0.00")),
        "cart_unavailable": [listing for listing in listings if listing.status != listing.Status.AVAILABLE],
        "cart_toggle_url": reverse("marketplace:cart_toggle"),
    }


# Of a long facet (industries, states) the ticked values come first and the panel shows this many values; the rest
# fold under "Show N more", so nothing ticked is ever hidden and the panel needs no scroll box of its own.
FACET_SHOWN = 6


def facet_choices(values: list[str], chosen: list[str]) -> dict[str, list[str]]:
    ticked = [value for value in values if value in chosen]
    others = [value for value in values if value not in chosen]
    room = max(FACET_SHOWN - len(ticked), 0)
    return {"shown": ticked + others[:room], "more": others[room:]}


@workspace_required
@vary_on_headers("HX-Request")
@reads_from_replica
def browse(request):
    query = meaningful_query(request.GET)
    params, errors = valid_filters(ListingFilterSerializer, query, labels=FILTER_LABELS)
    if params is None:
        filters, listings = selectors.ListingFilters(), Listing.objects.none()
    else:
        filters = params.filters()
        listings = selectors.available_listings(filters=filters, exclude_partner=request.workspace)
    try:
        page = keyset_paginate(
            listings, ordering=selectors.SORTS[filters.sort], cursor=request.GET.get("cursor"), page_size=PAGE_SIZE
        )
    except ApplicationError:
        return redirect(f"{reverse('marketplace:browse')}?{query.urlencode()}")
    context = {
        "page": page,
        "query": query.urlencode(),
        "filters": filters,
        "errors": errors,
        "filter_labels": FILTER_LABELS,
        **_cart_context(request),
    }
    if request.htmx and request.GET.get("cursor"):
        return render(request, "marketplace/browse.html#rows", context)
    context["result_count"] = selectors.listing_count(listings=listings, cap=RESULT_COUNT_CAP)
    context["result_count_cap"] = RESULT_COUNT_CAP
    if request.htmx and request.htmx.target == "results":
        return push_url(
            render(request, "marketplace/browse.html#results", context), reverse("marketplace:browse"), context["query"]
        )
    facets = selectors.listing_facets()
    context.update(
        {
            "industries": facet_choices(facets["industry"], filters.industry),
            "states": facet_choices(facets["state"], filters.state),
            # "No phone" (False) and a minimum of 0 are filters too.
            "active_filters": sum(
                1 for name, value in vars(filters).items() if name not in ("sort", "q") and value not in (None, [])
            ),
            "sizes": CompanySize.choices,
            "seniorities": Seniority.choices,
            "ages": AGE_CHOICES,
            "sorts": [("-quality", "Best quality"), ("price", "Lowest price"), ("-created", "Newest")],
        }
    )
    return render(request, "marketplace/browse.html", context)


@workspace_required
@require_POST
def cart_toggle(request):
    # The listing comes from the button that submitted the page's one cart form (listing_cards.cart_button).
    try:
        listing_id = int(request.POST.get("listing", ""))
    except ValueError:
        raise Http404("No such lead.") from None
    if listing_id in cart.cart_ids(request):
        cart.cart_remove(request, listing_id)
    else:
        if not selectors.listings_by_ids(ids=[listing_id]).exists():
            raise Http404("No such lead.")
        if not cart.cart_add(request, listing_id):
            messages.warning(request, f"Your cart holds at most {services.MAX_LEADS_PER_PURCHASE} leads.")
    if request.htmx:
        context = _cart_context(request)
        response = HttpResponse(cart_button(listing_id, context["cart_ids"], context["cart_toggle_url"]))
        response["HX-Trigger"] = "cart-changed"
        return response
    return redirect(safe_next(request) or reverse("marketplace:cart"))


@workspace_required
def cart_summary(request):
    return render(request, "marketplace/_cart_summary.html", _cart_context(request))


@workspace_required
def cart_page(request):
    context = _cart_context(request)
    context["balance"] = credit_balance(workspace=request.workspace)
    context["shortfall"] = max(context["cart_total"] - context["balance"], Decimal("0.00"))
    return render(request, "marketplace/cart.html", context)


@workspace_required
@require_POST
def cart_clear_unavailable(request):
    for listing in _cart_context(request)["cart_unavailable"]:
        cart.cart_remove(request, listing.pk)
    return redirect("marketplace:cart")


@workspace_required
@require_POST
def cart_checkout(request):
    ids = cart.cart_ids(request)
    payment = request.POST.get("payment", LeadPurchase.Payment.CREDITS)
    if not ids:
        messages.info(request, "Your cart is empty: add leads from the marketplace first.")
        return redirect("marketplace:browse")
    purchase = services.purchase_create(
        workspace=request.workspace,
        lead_ids=ids,
        payment=payment,
        created_by=request.user,
        base_url=request.build_absolute_uri("/"),
    )
    cart.cart_clear(request)
    if purchase.status == LeadPurchase.Status.PENDING and purchase.checkout_url:
        return redirect(purchase.checkout_url)
    messages.success(request, f"Bought {len(ids)} lead{'s' if len(ids) > 1 else ''}. They're in My Leads now.")
    return redirect("marketplace:purchase_detail", purchase_id=purchase.pk)


@workspace_required
def purchase_list(request):
    purchases = selectors.workspace_purchases(workspace=request.workspace).prefetch_related("items")
    try:
        page = keyset_paginate(purchases, ordering=("-created_at", "-id"), cursor=request.GET.get("cursor"), page_size=PAGE_SIZE)
    except ApplicationError:
        return redirect("marketplace:purchases")
    return render(request, "marketplace/purchases.html", {"page": page})


def _purchase(request, purchase_id):
    return or_404(selectors.purchase_get, workspace=request.workspace, purchase_id=purchase_id)


@workspace_required
def purchase_detail(request, purchase_id: int):
    purchase = _purchase(request, purchase_id)
    context = {
        "purchase": purchase,
        "items": selectors.purchase_items(purchase=purchase),
        "result": request.GET.get("result", ""),
    }
    if request.htmx:
        return render(request, "marketplace/purchase_detail.html#status", context)
    return render(request, "marketplace/purchase_detail.html", context)


@workspace_required
@require_POST
def purchase_cancel(request, purchase_id: int):
    perform(
        request,
        services.purchase_cancel,
        workspace=request.workspace,
        purchase_id=purchase_id,
        success="Purchase cancelled: nothing was charged and the leads are back on the market.",
    )
    return redirect("marketplace:purchase_detail", purchase_id=purchase_id)


@gated_export
@workspace_required
def purchase_download(request, purchase_id: int):
    purchase = _purchase(request, purchase_id)
    if purchase.status != LeadPurchase.Status.COMPLETE:
        messages.error(request, "Only complete purchases can be downloaded.")
        return redirect("marketplace:purchase_detail", purchase_id=purchase.pk)
    return purchase_csv_response(purchase)
