from django.conf import settings
from django.shortcuts import redirect, render
from django.urls import reverse

from analytics.views import dashboard
from cursive.errors import ApplicationError
from cursive.forms import apply_error
from cursive.ratelimit import client_ip, hit_sliding

from . import headline, selectors, services
from .forms import ContactForm
from .legal import render_markdown
from .models import ContactRequest

DEFAULT_HEADLINE = "See who's visiting your site. Reach out before they leave."
DEFAULT_SUBHEADLINE = (
    "Cursive names the companies and people on your website, finds more like them in a database of business "
    "contacts, and gets your first email to them while they are still deciding."
)
CONTACT_WINDOW_SECONDS = 3600


def home(request):
    """The dashboard for people who are logged in (the URL name `dashboard`), the public home for everyone else."""
    if request.user.is_authenticated:
        return dashboard(request)
    shown = headline.headline_for(request)
    offers = selectors.package_offers()
    response = render(
        request,
        "website/home.html",
        {
            "headline": shown.variant.headline if shown.variant else DEFAULT_HEADLINE,
            "subheadline": (shown.variant.subheadline if shown.variant else "") or DEFAULT_SUBHEADLINE,
            "cheapest": min(offers, key=lambda offer: offer.cents_per_credit) if offers else None,
            "smallest": min(offers, key=lambda offer: offer.package.credits) if offers else None,
        },
    )
    if shown.cookie:
        headline.remember(response, shown.cookie)
    return response


def pricing(request):
    return render(request, "website/pricing.html", {"offers": selectors.package_offers(), "prices": selectors.credit_prices()})


TIERS = [
    {
        "key": ContactRequest.Tier.DIY,
        "name": "DIY",
        "tagline": "The self-serve product",
        "for": "Teams that want to find and reach leads themselves.",
        "includes": [
            "Website visitor identification with the Cursive pixel",
            "Lead Search, segments and the Marketplace",
            "Batch enrichment, sequences, webhooks and the REST API",
        ],
        "price": "Pay as you go with credits",
        "cta": "Start free",
    },
    {
        "key": ContactRequest.Tier.DATA,
        "name": "Cursive Data",
        "tagline": "Leads and enrichment delivered",
        "for": "Teams that want lists ready to use, without running searches.",
        "includes": [
            "An audience built with you from your ideal customer profile",
            "Verified emails and phones, refreshed on a schedule",
            "Delivered to your CRM, a webhook or a CSV",
        ],
        "price": "A monthly volume, quoted for you",
        "cta": "Ask about Cursive Data",
    },
    {
        "key": ContactRequest.Tier.OUTBOUND,
        "name": "Outbound",
        "tagline": "Done-for-you campaigns",
        "for": "Teams that want meetings, not tools.",
        "includes": [
            "Targeting, copy and sending handled by our team",
            "Warmed mailboxes and reply handling",
            "A weekly report of replies and meetings booked",
        ],
        "price": "A monthly retainer, quoted for you",
        "cta": "Ask about Outbound",
    },
]


def _contact_allowed(request) -> bool:
    decision = hit_sliding(
        f"contact:ip:{client_ip(request)}", limit=settings.CONTACT_REQUESTS_PER_IP_PER_HOUR, window=CONTACT_WINDOW_SECONDS
    )
    return decision.allowed


def services_page(request):
    tier = request.GET.get("tier")
    form = ContactForm(request.POST or None, initial={"tier": tier if tier in ContactRequest.Tier.values else None})
    status = 200
    if request.method == "POST":
        if not _contact_allowed(request):
            form.add_error(None, "Too many messages from your network in the last hour; please try again later.")
            status = 429
        elif form.is_valid():
            if form.is_bot():
                return redirect(reverse("website:services") + "?sent=1#contact")
            data = {key: form.cleaned_data[key] for key in ("name", "email", "company", "tier", "message")}
            try:
                services.contact_request_create(**data)
            except ApplicationError as exc:
                apply_error(form, exc)
            else:
                return redirect(reverse("website:services") + "?sent=1#contact")
        if status == 200:
            status = 400 if form.errors else 200
    return render(
        request, "website/services.html", {"tiers": TIERS, "form": form, "sent": request.GET.get("sent") == "1"}, status=status
    )


def legal(request, slug: str):
    title, body, page = selectors.legal_page(slug=slug)
    return render(request, "website/legal.html", {"title": title, "body": render_markdown(body), "page": page})
