"""The marketplace filters (docs/marketplace.md), parsed once for the API and the browse page."""

from rest_framework import serializers

from leads.models import CompanySize, Seniority

from . import selectors

# The names the browse page gives the filters, for messages about them.
FILTER_LABELS = {
    "industry": "Industry",
    "state": "State",
    "company_size": "Company size",
    "seniority": "Seniority",
    "price_min": "Min price",
    "price_max": "Max price",
    "quality_min": "Minimum quality",
    "age_days": "Listed",
    "has_phone": "Phone",
    "has_linkedin": "LinkedIn",
    "q": "Search",
    "sort": "Sort by",
}


class ListingFilterSerializer(serializers.Serializer):
    industry = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    state = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    company_size = serializers.ListField(child=serializers.ChoiceField(choices=CompanySize.choices), required=False)
    seniority = serializers.ListField(child=serializers.ChoiceField(choices=Seniority.choices), required=False)
    price_min = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    price_max = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    quality_min = serializers.IntegerField(min_value=0, max_value=100, required=False)
    age_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    has_phone = serializers.BooleanField(required=False, allow_null=True, default=None)
    has_linkedin = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    sort = serializers.ChoiceField(choices=list(selectors.SORTS), required=False, default="-quality")

    def validate(self, attrs):
        low, high = attrs.get("price_min"), attrs.get("price_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"price_max": ["Max price must be at least the min price."]})
        return attrs

    def filters(self) -> selectors.ListingFilters:
        return selectors.ListingFilters(**self.validated_data)
