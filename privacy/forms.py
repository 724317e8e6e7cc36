from django import forms

from .models import OptOutRequest


class OptOutForm(forms.Form):
    email = forms.EmailField(label="Your email address", max_length=254)
    kind = forms.ChoiceField(
        label="What should Cursive do?",
        choices=[
            (OptOutRequest.Kind.ERASE, "Remove me: erase my data and never add me again"),
            (OptOutRequest.Kind.COPY, "Send me a copy of the data you hold about me"),
        ],
        initial=OptOutRequest.Kind.ERASE,
        widget=forms.RadioSelect,
    )
