"""The My Leads filters, parsed once for the page, the API list and the export."""

from rest_framework import serializers

from .models import Lead
from .selectors import SORTS, LeadFilters


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

    def filters(self) -> LeadFilters:
        return LeadFilters(**self.validated_data)


def parse_lead_filters(query) -> LeadFilters:
    """Filters from a query string; blank values are ignored, bad ones raise serializers.ValidationError."""
    data = {key: value for key, value in query.items() if str(value).strip() and key in LeadFilterSerializer().fields}
    serializer = LeadFilterSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.filters()
