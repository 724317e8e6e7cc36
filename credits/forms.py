from django import forms

from .models import CreditTransaction


class LedgerFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "All kinds"), *CreditTransaction.Kind.choices], required=False, label="Kind")


class ThresholdForm(forms.Form):
    low_balance_threshold = forms.DecimalField(min_value=0, max_digits=14, decimal_places=2,
                                               label="Warn me below (credits)")


class AdjustmentForm(forms.Form):
    workspace = forms.IntegerField(widget=forms.HiddenInput)
    amount = forms.DecimalField(max_digits=14, decimal_places=2,
                                help_text="Positive adds credits, negative takes them away.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Required; kept in the audit log.")
