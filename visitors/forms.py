from django import forms
from django.conf import settings

from . import services


class PixelForm(forms.Form):
    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"placeholder": "Main website"}))
    domain = forms.CharField(
        max_length=300, help_text=services.DOMAIN_HELP, widget=forms.TextInput(attrs={"placeholder": "example.com"})
    )


class PixelEditForm(PixelForm):
    auto_enrich = forms.BooleanField(
        required=False,
        label="Fill identified visitors from the lead database",
        help_text=f"As each visitor is identified, add their title, phone and company details from Cursive's lead "
        f"database: {settings.VISITOR_ENRICHMENT_PRICE} credits per person, charged once, and only when we know them.",
    )
