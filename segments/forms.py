"""Turning the Lead Search form (a query string) into the segment filters object, and back."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import QueryDict

from .filters import BOOLEAN_FIELDS, LIST_FIELDS


def filters_from_query(query: QueryDict) -> dict:
    """The raw filters a form submitted; validated later by the one schema (segments.filters)."""
    raw: dict = {}
    for name in LIST_FIELDS:
        values = [value.strip() for item in query.getlist(name) for value in item.split(",") if value.strip()]
        if values:
            raw[name] = values
    if query.get("title", "").strip():
        raw["title"] = query["title"].strip()
    for name in BOOLEAN_FIELDS:
        if query.get(name) in ("true", "false"):
            raw[name] = query[name] == "true"
    domains = [value.strip() for item in query.getlist("company_domain") for value in item.split(",") if value.strip()]
    if domains:
        raw["company_domain"] = domains
    if query.get("score_min", "").strip():
        raw["score_min"] = query["score_min"].strip()
    return raw


def query_from_filters(filters: dict) -> str:
    pairs = []
    for key, value in filters.items():
        if isinstance(value, list):
            pairs += [(key, item) for item in value]
        elif isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        else:
            pairs.append((key, value))
    return urlencode(pairs)
