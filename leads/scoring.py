"""Quality of a lead offered for sale: how complete and how verifiable its contact details are (0-100)."""

from __future__ import annotations

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
