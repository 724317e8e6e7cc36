"""Scores: the quality of a lead offered for sale, and the score of a lead a workspace owns (0-100 both)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db.models import CharField, DateTimeField, F, Func, IntegerField, Value

# Each present (and, for email and phone, well-formed) field adds its weight; the weights sum to 100.
QUALITY_WEIGHTS = {
    "email": 25,
    "phone": 20,
    "linkedin_url": 15,
    "title": 10,
    "seniority": 8,
    "company_name": 8,
    "company_size": 5,
    "industry": 5,
    "city_or_state": 4,
}


def listing_quality(cleaned: dict, *, email_verified: bool = False) -> int:
    """`cleaned` is the output of leads.services.lead_fields_clean for a row without errors."""
    present = {
        "email": bool(cleaned.get("email")),
        "phone": bool(cleaned.get("phone")),
        "linkedin_url": bool(cleaned.get("linkedin_url")),
        "title": bool(cleaned.get("title")),
        "seniority": bool(cleaned.get("seniority")),
        "company_name": bool(cleaned.get("company_name")),
        "company_size": bool(cleaned.get("company_size")),
        "industry": bool(cleaned.get("industry")),
        "city_or_state": bool(cleaned.get("city") or cleaned.get("state")),
    }
    score = sum(weight for field, weight in QUALITY_WEIGHTS.items() if present[field])
    # An address nobody has verified yet is worth less than a verified one.
    if present["email"] and not email_verified:
        score -= 5
    return max(0, min(100, score))


# --- A workspace's lead score (0-100), with factors a person can read on the lead ----------------------
DELIVERABILITY = {"email_verified": 20, "phone_verified": 10}
# What the website pixel reports for a visitor it identified: pages viewed, and engaged time (the time a page was
# open and visible in the browser, sent when the page hides). 3 points a page up to 15, 1 point every 20 s up to 15.
ENGAGEMENT = {"pages": (3, 15), "seconds": (20, 15)}
FIT = {"company_size": 12, "industry": 13}  # against the workspace's ideal customer profile
RECENCY = [(7, 15), (30, 10), (90, 5)]  # (days old at most, points)


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _part(label: str, points: int, most: int) -> dict:
    return {"label": label, "points": points, "max": most}


def profile_fit(profile) -> tuple[list[str], list[str]]:
    """The company sizes and industries of an ideal customer profile (none without one): what fit scores against."""
    return (list(profile.company_sizes), list(profile.industries)) if profile else ([], [])


def score_factors(lead, profile, now) -> dict[str, dict]:
    """Each factor's points of its most, split into the parts that earn them (each "points of max", summing to
    the factor), for the lead's detail; the SQL function leads_score must agree."""
    sizes, industries = profile_fit(profile)
    email, phone = lead.email_status == "valid", lead.phone_status == "valid"
    email_points, phone_points = DELIVERABILITY["email_verified"], DELIVERABILITY["phone_verified"]
    deliverability = [
        _part("Email verified" if email else "Email not verified", email_points if email else 0, email_points),
        _part("Phone verified" if phone else "Phone not verified", phone_points if phone else 0, phone_points),
    ]
    (per_page, pages_cap), (per_point, seconds_cap) = ENGAGEMENT["pages"], ENGAGEMENT["seconds"]
    pages, seconds = lead.pages_viewed, lead.seconds_on_site
    engagement = [
        _part(
            f"{pages} page{'s' if pages != 1 else ''} viewed on your site ({per_page} points a page)",
            min(pages * per_page, pages_cap),
            pages_cap,
        ),
        _part(
            f"{_duration(seconds)} with your pages open and in view (1 point every {per_point} s)",
            min(seconds // per_point, seconds_cap),
            seconds_cap,
        ),
    ]
    size_fits = bool(lead.company_size and lead.company_size in sizes)
    industry_fits = bool(lead.industry and lead.industry in industries)
    fit = [
        _part(
            f"Company size {lead.company_size or 'unknown'}{' matches your profile' if size_fits else ''}",
            FIT["company_size"] if size_fits else 0,
            FIT["company_size"],
        ),
        _part(
            f"Industry {lead.industry or 'unknown'}{' matches your profile' if industry_fits else ''}",
            FIT["industry"] if industry_fits else 0,
            FIT["industry"],
        ),
    ]
    age_days = (now - lead.created_at).days
    recency = next((points for days, points in RECENCY if age_days <= days), 0)
    added = "Added today" if age_days == 0 else f"Added {age_days} day{'s' if age_days != 1 else ''} ago"
    factors = {
        "deliverability": {"parts": deliverability, "note": ""},
        "engagement": {
            "parts": engagement,
            "note": ""
            if pages or seconds
            else "Not seen on your site yet: your website pixel counts the pages a person it identified views and "
            "how long your pages are open and in view.",
        },
        "fit": {"parts": fit, "note": "" if sizes or industries else "Set your ideal customer profile to score fit."},
        "recency": {
            "parts": [_part(added, recency, RECENCY[0][1])],
            "note": "15 points in the first week, 10 in the first month, 5 in the first 90 days.",
        },
    }
    for factor in factors.values():
        factor["points"] = sum(part["points"] for part in factor["parts"])
        factor["max"] = sum(part["max"] for part in factor["parts"])
    return factors


def score_total(factors: dict[str, dict]) -> int:
    return min(100, sum(factor["points"] for factor in factors.values()))


def score_expression(profile, now):
    """The same score as a SQL expression (the `leads_score` function, installed by leads' migration 0012, which
    the purchase function calls too), so every lead of a workspace is re-scored in one UPDATE."""
    sizes, industries = profile_fit(profile)
    return Func(
        F("email_status"),
        F("phone_status"),
        F("pages_viewed"),
        F("seconds_on_site"),
        F("company_size"),
        F("industry"),
        F("created_at"),
        Value(sizes, output_field=ArrayField(CharField())),
        Value(industries, output_field=ArrayField(CharField())),
        Value(now, output_field=DateTimeField()),
        function="leads_score",
        output_field=IntegerField(),
    )
