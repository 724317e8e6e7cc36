from django import forms

from .models import CompanySize, Lead, Seniority


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


class LeadFilterForm(forms.Form):
    source = forms.ChoiceField(choices=[("", "All sources"), *Lead.Source.choices], required=False)
    status = forms.ChoiceField(choices=[("", "All statuses"), *Lead.Status.choices], required=False)
    tag = forms.CharField(max_length=50, required=False)
