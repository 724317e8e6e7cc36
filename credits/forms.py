from django import forms

from .models import CreditPackage, CreditTransaction


class LedgerFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "All kinds"), *CreditTransaction.Kind.choices], required=False, label="Kind")


class ThresholdForm(forms.Form):
    low_balance_threshold = forms.DecimalField(
        min_value=0,
        max_digits=14,
        decimal_places=2,
        required=False,
        label="Warn me below (credits)",
        help_text="Leave empty for 20% of the last package you bought.",
    )


class AutoReloadForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Buy credits automatically when the balance falls below the alert level")
    package = forms.ModelChoiceField(
        queryset=CreditPackage.objects.filter(active=True), required=False, empty_label=None, label="Package to buy"
    )
