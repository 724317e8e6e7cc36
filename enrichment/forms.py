from django import forms

from leads.forms import ColumnMappingForm

from .services import mapping_problem


class EnrichmentStartForm(forms.Form):
    file = forms.FileField(label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))


class EnrichmentMappingForm(ColumnMappingForm):
    def required_fields_check(self, chosen: set[str]) -> None:
        # The service refuses the same mappings (and the API says the same sentence): one rule.
        problem = mapping_problem(chosen)
        if problem:
            raise forms.ValidationError(problem)


class EnrichmentConfirmForm(forms.Form):
    max_credits = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        label="Spend at most (credits)",
        help_text="Optional: enrich the best matches up to this many credits. Leave empty to enrich every match.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )
