from django import forms

from leads.services import LEAD_FIELDS

FIELD_LABELS = {field: field.replace("_", " ").capitalize() for field in LEAD_FIELDS}
FIELD_LABELS.update({"linkedin_url": "LinkedIn URL", "zip": "ZIP", "company_domain": "Company domain"})


class UploadStartForm(forms.Form):
    file = forms.FileField(label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))
    price_per_lead = forms.DecimalField(
        min_value=0.5, max_value=1000, decimal_places=2, initial=5, label="Price per lead (credits)"
    )


class MappingForm(forms.Form):
    """One select per CSV column: which lead field it holds (or none)."""

    price_per_lead = forms.DecimalField(min_value=0.5, max_value=1000, decimal_places=2, label="Price per lead (credits)")

    def __init__(self, *args, headers: list[str], suggested: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        choices = [("", "— ignore —"), *FIELD_LABELS.items()]
        for index, header in enumerate(headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                choices=choices, required=False, label=header or "(blank)", initial=suggested.get(header, "")
            )

    def clean(self):
        cleaned = super().clean()
        chosen = [cleaned.get(f"col_{i}") for i in range(len(self.headers)) if cleaned.get(f"col_{i}")]
        twice = sorted({field for field in chosen if chosen.count(field) > 1})
        if twice:
            raise forms.ValidationError(
                f"Each lead field can come from one column only: {', '.join(FIELD_LABELS[f] for f in twice)} is chosen twice."
            )
        if not {"email", "phone"} & set(chosen):
            raise forms.ValidationError("Choose the column that holds email addresses or phone numbers.")
        return cleaned

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data[f"col_{i}"] for i, header in enumerate(self.headers) if self.cleaned_data.get(f"col_{i}")
        }

    def mapping_rows(self):
        return [(header, self[f"col_{i}"]) for i, header in enumerate(self.headers)]
