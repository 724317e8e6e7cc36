"""Email templates: `{{first_name}}`, `{{company_name|your team}}` (a fallback after a bar). Any lead field is a
variable; a variable with no value and no fallback keeps the lead out of the sequence at enrolment (the
pre-flight check) rather than sending "Hi ,". See docs/sequences.md."""

from __future__ import annotations

import re
from dataclasses import dataclass

from leads.services import LEAD_FIELDS

VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:\|([^{}]*))?\}\}")
VARIABLES = frozenset(LEAD_FIELDS) | {"full_name"}


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    fallback: str | None


def placeholders(text: str) -> list[Placeholder]:
    return [
        Placeholder(match.group(1).lower(), None if match.group(2) is None else match.group(2).strip())
        for match in VARIABLE.finditer(text)
    ]


def unknown_variables(text: str) -> list[str]:
    return sorted({placeholder.name for placeholder in placeholders(text)} - VARIABLES)


def lead_values(lead) -> dict[str, str]:
    values = {field: (getattr(lead, field, "") or "").strip() for field in LEAD_FIELDS}
    values["full_name"] = " ".join(part for part in (values["first_name"], values["last_name"]) if part)
    return values


def missing_variables(texts: list[str], values: dict[str, str]) -> list[str]:
    """Variables these templates need that the lead has no value for and that have no fallback."""
    missing = {
        placeholder.name
        for text in texts
        for placeholder in placeholders(text)
        if not values.get(placeholder.name) and not placeholder.fallback
    }
    return sorted(missing)


def required_variables(texts: list[str]) -> frozenset[str]:
    """Variables these templates use somewhere without a fallback: a lead needs a value for each."""
    return frozenset(placeholder.name for text in texts for placeholder in placeholders(text) if not placeholder.fallback)


def required_fields(required: frozenset[str]) -> list[str]:
    """The lead fields that give the values of `required` variables (full_name is made of two)."""
    fields = {name for name in required if name in LEAD_FIELDS}
    if "full_name" in required:
        fields |= {"first_name", "last_name"}
    return sorted(fields)


def missing_required(required: frozenset[str], lead) -> list[str]:
    """`missing_variables` for a lead (any object with the `required_fields` as attributes), parsing nothing:
    the enrolment's pre-flight asks this of every lead with templates parsed once."""
    missing = []
    for name in required:
        if name == "full_name":
            value = (lead.first_name or "").strip() or (lead.last_name or "").strip()
        else:
            value = (getattr(lead, name, "") or "").strip()
        if not value:
            missing.append(name)
    return sorted(missing)


def render(text: str, values: dict[str, str]) -> str:
    return VARIABLE.sub(lambda match: values.get(match.group(1).lower()) or (match.group(2) or "").strip(), text)
