"""The one schema of segment filters (docs/lead-search.md), shared by the Lead Search page, the API and the runner."""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery
from django.db.models import QuerySet
from rest_framework import serializers

from leads.models import CompanySize, Person, PersonTitle, Seniority

LIST_FIELDS = ("industry", "state", "city", "company_size", "seniority")
# The names Lead Search and the segment editor give the filters, for messages about them.
FILTER_LABELS = {
    "industry": "Industry",
    "state": "State",
    "city": "City",
    "company_size": "Company size",
    "seniority": "Seniority",
    "title": "Job title words",
    "has_email": "Email",
    "has_phone": "Phone",
    "has_linkedin": "LinkedIn",
    "email_verified": "Verified email",
    "score_min": "Minimum quality score",
    "company_domain": "Company domain",
}
BOOLEAN_FIELDS = ("has_email", "has_phone", "has_linkedin", "email_verified")


class Text(serializers.CharField):
    """A JSON string, not a number DRF would quietly turn into one (docs/lead-search.md: bad values are a 400)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Flag(serializers.BooleanField):
    """A JSON true or false, not "yes" or 1."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class Choice(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class SegmentFiltersSerializer(serializers.Serializer):
    industry = serializers.ListField(child=Text(max_length=100), required=False, max_length=50)
    state = serializers.ListField(child=Text(max_length=50), required=False, max_length=60)
    city = serializers.ListField(child=Text(max_length=100), required=False, max_length=50)
    company_size = serializers.ListField(child=Choice(choices=CompanySize.values), required=False)
    seniority = serializers.ListField(child=Choice(choices=Seniority.values), required=False)
    title = Text(max_length=200, required=False, allow_blank=True)
    has_email = Flag(required=False)
    has_phone = Flag(required=False)
    has_linkedin = Flag(required=False)
    email_verified = Flag(required=False)
    score_min = serializers.IntegerField(min_value=0, max_value=100, required=False)
    company_domain = serializers.ListField(child=Text(max_length=253), required=False, max_length=50)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({key: [f"Unknown filter. Use: {', '.join(self.fields)}."] for key in unknown})
        # Empty lists and blank words filter nothing: drop them so saved filters stay minimal.
        return {key: value for key, value in attrs.items() if value not in ([], "")}


def clean_filters(raw) -> dict:
    """Validated filters or serializers.ValidationError (the API answers 400 with the fields)."""
    if not isinstance(raw, dict):
        raise serializers.ValidationError({"filters": ['Filters are an object, e.g. {"industry": ["SaaS"]}.']})
    serializer = SegmentFiltersSerializer(data=raw)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def people_matching(filters: dict) -> QuerySet[Person]:
    """Filters must already be clean (clean_filters)."""
    people = Person.objects.all()
    for name in LIST_FIELDS:
        if filters.get(name):
            people = people.filter(**{f"{name}__in": filters[name]})
    for name in BOOLEAN_FIELDS:
        if name in filters:
            people = people.filter(**{name: filters[name]})
    if filters.get("score_min") is not None:
        people = people.filter(score__gte=filters["score_min"])
    if filters.get("company_domain"):
        # Through the company: its unique domain index and the people's company index find a few companies'
        # people without a scan of the people table.
        people = people.filter(company__domain__in=[domain.strip().lower() for domain in filters["company_domain"]])
    if filters.get("title", "").strip():
        # The words are looked up among the distinct titles, then the people holding those titles are found by
        # person_title_idx: at 10M people, matching the words against every person's title took 0.7 s.
        words = SearchQuery(filters["title"], search_type="plain", config="simple")
        people = people.filter(title__in=PersonTitle.objects.filter(words=words).values("title"))
    return people
