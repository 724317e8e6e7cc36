from django import forms

from . import services


class PixelForm(forms.Form):
    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"placeholder": "Main website"}))
    domain = forms.CharField(
        max_length=300, help_text=services.DOMAIN_HELP, widget=forms.TextInput(attrs={"placeholder": "example.com"})
    )
