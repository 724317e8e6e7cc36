from django import forms

from .models import CreditTransaction


class LedgerFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "All kinds"), *CreditTransaction.Kind.choices], required=False, label="Kind")


class ThresholdForm(forms.Form):
    low_balance_threshold = forms.DecimalField(min_value=0, max_digits=14, decimal_places=2, label="Warn me below (credits)")
