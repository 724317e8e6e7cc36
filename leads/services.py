"""Every write to a workspace's leads."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import User, Workspace
from cursive.errors import Conflict, ValidationFailed

from . import normalize
from .models import CompanySize, Lead, Seniority

LEAD_FIELDS = (
    "first_name", "last_name", "email", "phone", "title", "seniority", "company_name", "company_domain",
    "company_size", "industry", "city", "state", "zip", "country", "linkedin_url",
)


def lead_fields_clean(data: dict) -> tuple[dict, dict[str, list[str]]]:
    """Normalise the lead fields of API.md; return the clean values and the problems per field."""
    cleaned = {field: normalize.clean_text(data.get(field)) for field in LEAD_FIELDS}
    errors: dict[str, list[str]] = {}
    cleaned["email"] = normalize.normalize_email(cleaned["email"])
    if cleaned["email"] and not normalize.is_valid_email(cleaned["email"]):
        errors["email"] = ["This is not a valid email address."]
    phone = normalize.normalize_phone(cleaned["phone"])
    if phone is None:
        errors["phone"] = ["This is not a valid phone number."]
    else:
        cleaned["phone"] = phone
    if not cleaned["email"] and not cleaned["phone"] and "email" not in errors and "phone" not in errors:
        errors["email"] = ["A lead needs an email address or a phone number."]
    if cleaned["linkedin_url"] and not normalize.is_valid_linkedin_url(cleaned["linkedin_url"]):
        errors["linkedin_url"] = ["Use a LinkedIn profile URL like https://www.linkedin.com/in/name."]
    if cleaned["seniority"] and cleaned["seniority"] not in Seniority.values:
        errors["seniority"] = [f"Use one of: {', '.join(Seniority.values)}."]
    if cleaned["company_size"] and cleaned["company_size"] not in CompanySize.values:
        errors["company_size"] = [f"Use one of: {', '.join(CompanySize.values)}."]
    cleaned["country"] = (cleaned["country"] or "US").upper()[:2]
    cleaned["state"] = cleaned["state"].upper() if len(cleaned["state"]) == 2 else cleaned["state"]
    cleaned["company_domain"] = cleaned["company_domain"].lower()
    for field in LEAD_FIELDS:
        limit = Lead._meta.get_field(field).max_length
        if len(cleaned[field]) > limit:
            errors.setdefault(field, []).append(f"Keep this under {limit} characters.")
    return cleaned, errors


def lead_create(*, workspace: Workspace, source: str, data: dict, created_by: User | None = None,
                tags: list[str] | None = None) -> Lead:
    if source not in Lead.Source.values:
        raise ValidationFailed(f"Unknown lead source '{source}'.", fields={"source": ["Unknown source."]})
    cleaned, errors = lead_fields_clean(data)
    if errors:
        raise ValidationFailed(fields=errors)
    lead = Lead(workspace=workspace, source=source, created_by=created_by, tags=sorted(set(tags or [])),
                dedup_hash=normalize.dedup_hash(cleaned["email"], cleaned["phone"]), **cleaned)
    try:
        with transaction.atomic():
            lead.save()
    except IntegrityError as exc:
        raise Conflict("This person is already one of your leads (same email and phone).",
                       code="duplicate_lead") from exc
    return lead
