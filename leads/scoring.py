"""Scores: the quality of a lead offered for sale, and the score of a lead a workspace owns (0-100 both)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Least

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
ENGAGEMENT_CAP = 30  # website visits: 3 points a page viewed (up to 15), 1 a 20 s on site (up to 15)
FIT = {"company_size": 12, "industry": 13}  # against the workspace's ideal customer profile
RECENCY = [(7, 15), (30, 10), (90, 5)]  # (days old at most, points)


def score_factors(lead, profile, now) -> dict[str, dict]:
    """Each factor's points and why, for the lead's detail; the SQL in score_expression() must agree."""
    sizes, industries = (profile.company_sizes, profile.industries) if profile else ([], [])
    deliverability = (DELIVERABILITY["email_verified"] if lead.email_status == "valid" else 0) + (
        DELIVERABILITY["phone_verified"] if lead.phone_status == "valid" else 0
    )
    engagement = min(lead.pages_viewed * 3, 15) + min(lead.seconds_on_site // 20, 15)
    fit = (FIT["company_size"] if lead.company_size and lead.company_size in sizes else 0) + (
        FIT["industry"] if lead.industry and lead.industry in industries else 0
    )
    age_days = (now - lead.created_at).days
    recency = next((points for days, points in RECENCY if age_days <= days), 0)
    return {
        "deliverability": {"points": deliverability, "max": 30, "why": "Email verified +20, phone verified +10."},
        "engagement": {
            "points": engagement,
            "max": ENGAGEMENT_CAP,
            "why": "Pages viewed and time on your site, seen by your website pixel."
            if lead.pages_viewed or lead.seconds_on_site
            else "Not seen on your site yet: install the website pixel to score visits.",
        },
        "fit": {
            "points": fit,
            "max": 25,
            "why": "Company size +12 and industry +13 when they match your ideal customer profile."
            if sizes or industries
            else "Set your ideal customer profile to score fit.",
        },
        "recency": {
            "points": recency,
            "max": 15,
            "why": "Added today." if age_days == 0 else f"Added {age_days} day{'s' if age_days != 1 else ''} ago.",
        },
    }


def score_total(factors: dict[str, dict]) -> int:
    return min(100, sum(factor["points"] for factor in factors.values()))


def _points(condition, value):
    return Case(When(condition, then=Value(value)), default=Value(0), output_field=IntegerField())


def score_expression(profile, now):
    """The same score as a SQL expression, so every lead of a workspace is re-scored in one UPDATE."""
    sizes, industries = (profile.company_sizes, profile.industries) if profile else ([], [])
    deliverability = _points(Q(email_status="valid"), DELIVERABILITY["email_verified"]) + _points(
        Q(phone_status="valid"), DELIVERABILITY["phone_verified"]
    )
    engagement = Least(F("pages_viewed") * 3, Value(15)) + Least(F("seconds_on_site") / 20, Value(15))
    fit = (_points(Q(company_size__in=sizes) & ~Q(company_size=""), FIT["company_size"]) if sizes else Value(0)) + (
        _points(Q(industry__in=industries) & ~Q(industry=""), FIT["industry"]) if industries else Value(0)
    )
    recency = Case(
        *[When(created_at__gt=now - timedelta(days=days + 1), then=Value(value)) for days, value in RECENCY],
        default=Value(0),
        output_field=IntegerField(),
    )
    return Least(deliverability + engagement + fit + recency, Value(100))
