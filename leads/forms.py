from django import forms

from .models import CompanySize, Seniority
from .services import LEAD_FIELDS

FIELD_LABELS = {field: field.replace("_", " ").capitalize() for field in LEAD_FIELDS}
FIELD_LABELS.update({"linkedin_url": "LinkedIn URL", "zip": "ZIP", "company_domain": "Company domain"})


class LeadForm(forms.Form):
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    email = forms.CharField(max_length=254, required=False)
    phone = forms.CharField(max_length=32, required=False)
    title = forms.CharField(max_length=200, required=False, label="Job title")
    seniority = forms.ChoiceField(choices=[("", "—"), *Seniority.choices], required=False)
    company_name = forms.CharField(max_length=200, required=False, label="Company")
    company_domain = forms.CharField(max_length=200, required=False, label="Company domain")
    company_size = forms.ChoiceField(choices=[("", "—"), *CompanySize.choices], required=False)
    industry = forms.CharField(max_length=100, required=False)
    city = forms.CharField(max_length=100, required=False)
    state = forms.CharField(max_length=50, required=False)
    zip = forms.CharField(max_length=20, required=False, label="ZIP")
    country = forms.CharField(max_length=2, required=False, initial="US")
    linkedin_url = forms.CharField(max_length=300, required=False, label="LinkedIn URL")


class ProfileForm(forms.Form):
    company_sizes = forms.MultipleChoiceField(
        choices=CompanySize.choices, required=False, widget=forms.CheckboxSelectMultiple, label="Company sizes you sell to"
    )
    industries = forms.CharField(
        required=False, label="Industries you sell to", help_text="Comma separated, as they appear on leads, e.g. SaaS, Fintech."
    )

    def clean_industries(self):
        return [industry.strip() for industry in self.cleaned_data["industries"].split(",") if industry.strip()]


class ColumnMappingForm(forms.Form):
    """One select per CSV column: which lead field it holds (or none). Subclasses add their own fields and
    say, in `required_fields_check`, which fields a usable mapping must include."""

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
        self.required_fields_check(set(chosen))
        return cleaned

    def required_fields_check(self, chosen: set[str]) -> None:
        """Raise forms.ValidationError when the chosen fields cannot make a usable row."""

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data[f"col_{i}"] for i, header in enumerate(self.headers) if self.cleaned_data.get(f"col_{i}")
        }

    def mapping_rows(self):
        return [(header, self[f"col_{i}"]) for i, header in enumerate(self.headers)]
