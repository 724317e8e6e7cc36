from django import forms

from .models import ContactRequest


class ContactForm(forms.Form):
    name = forms.CharField(max_length=120, label="Your name")
    email = forms.EmailField(max_length=254, label="Work email")
    company = forms.CharField(max_length=160, required=False, label="Company")
    tier = forms.ChoiceField(choices=ContactRequest.Tier.choices, label="Service", widget=forms.RadioSelect)
    message = forms.CharField(max_length=5000, label="What do you need?", widget=forms.Textarea(attrs={"rows": 5}))
    # Hidden from people (off-screen, out of the tab order); bots that fill every field give themselves away.
    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def is_bot(self) -> bool:
        return bool(self.cleaned_data.get("website"))
