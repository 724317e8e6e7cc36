from django import forms

from leads.forms import ColumnMappingForm


class UploadStartForm(forms.Form):
    file = forms.FileField(label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))
    price_per_lead = forms.DecimalField(
        min_value=0.5, max_value=1000, decimal_places=2, initial=5, label="Price per lead (credits)"
    )


class MappingForm(ColumnMappingForm):
    price_per_lead = forms.DecimalField(min_value=0.5, max_value=1000, decimal_places=2, label="Price per lead (credits)")

    def required_fields_check(self, chosen: set[str]) -> None:
        if not {"email", "phone"} & chosen:
            raise forms.ValidationError("Choose the column that holds email addresses or phone numbers.")
