"""The My Leads filters, parsed once for the page, the API list and the export."""

from rest_framework import serializers

from cursive.filtering import valid_filters

from .models import Lead
from .selectors import SORTS, LeadFilters

# The names the My Leads page gives the filters, for messages about them.
FILTER_LABELS = {
    "sort": "Sort by",
    "source": "Source",
    "status": "Status",
    "score_min": "Score from",
    "score_max": "Score to",
    "tag": "Tag",
    "industry": "Industry",
    "created_from": "Added from",
    "created_to": "Added to",
}


class LeadFilterSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=Lead.Source.choices, required=False)
    status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)
    tag = serializers.CharField(max_length=50, required=False)
    industry = serializers.CharField(max_length=100, required=False)
    score_min = serializers.IntegerField(min_value=0, max_value=100, required=False)
    score_max = serializers.IntegerField(min_value=0, max_value=100, required=False)
    created_from = serializers.DateField(required=False)
    created_to = serializers.DateField(required=False)
    sort = serializers.ChoiceField(choices=list(SORTS), required=False, default="-score")

    def validate(self, attrs):
        errors = {}
        if None not in (attrs.get("score_min"), attrs.get("score_max")) and attrs["score_min"] > attrs["score_max"]:
            errors["score_max"] = ["Score to must be at least the score from."]
        if None not in (attrs.get("created_from"), attrs.get("created_to")) and attrs["created_from"] > attrs["created_to"]:
            errors["created_to"] = ["Added to must be on or after the added from date."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def filters(self) -> LeadFilters:
        return LeadFilters(**self.validated_data)


def _given(query) -> dict:
    return {key: value for key, value in query.items() if str(value).strip() and key in LeadFilterSerializer().fields}


def parse_lead_filters(query) -> LeadFilters:
    """Filters from a query string; blank values are ignored, bad ones raise serializers.ValidationError."""
    serializer = LeadFilterSerializer(data=_given(query))
    serializer.is_valid(raise_exception=True)
    return serializer.filters()


def page_lead_filters(query) -> tuple[LeadFilters | None, dict[str, list[str]]]:
    """For the page: the valid filters (None: none can be trusted, show nothing) and the problems of the others."""
    serializer, errors = valid_filters(LeadFilterSerializer, _given(query), labels=FILTER_LABELS)
    return (serializer.filters() if serializer is not None else None), errors
