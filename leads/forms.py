from django import forms

from .models import CompanySize, Seniority


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
