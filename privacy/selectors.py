"""What Cursive holds about a person, as the copy a person asks for on the opt-out page."""

from __future__ import annotations

from django.utils import timezone

from leads import normalize
from leads.models import Lead, Person, Suppression
from leads.services import LEAD_FIELDS

# The lead fields every lead carries, and when the lead database learnt them and whether the address was checked.
PERSON_FIELDS = (*LEAD_FIELDS, "email_verified", "created_at")
COMPANY_FIELDS = ("name", "domain", "size", "industry", "city", "state", "country")


def data_copy(*, email: str) -> dict:
    """Cursive's own lead-database record of the address and its company, and how many customers hold the
    person's contact details; which customers they are is theirs to tell, not Cursive's."""
    email_hash = normalize.suppression_hash(email)
    person = Person.objects.select_related("company").filter(dedup_hash=email_hash).first()
    company = person.company if person else None
    return {
        "email": normalize.normalize_email(email),
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "lead_database": {name: _plain(getattr(person, name)) for name in PERSON_FIELDS} if person else None,
        "company": {name: getattr(company, name) for name in COMPANY_FIELDS} if company else None,
        "customers_holding_your_contact_details": Lead.objects.filter(dedup_hash=email_hash)
        .values("workspace_id")
        .distinct()
        .count(),
        "erased_and_suppressed": Suppression.objects.filter(workspace__isnull=True, email_hash=email_hash).exists(),
    }


def _plain(value):
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else value
