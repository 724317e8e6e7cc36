from django import forms
from django.contrib.auth.forms import AuthenticationForm

from .models import Membership, Workspace
from .services import time_zone_names
from .validators import validate_single_line


class SignupForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Your name")
    email = forms.EmailField(label="Work email")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        min_length=8,
        help_text="At least 8 characters, not entirely numeric.",
    )
    workspace_name = forms.CharField(max_length=120, label="Company or team name", validators=[validate_single_line])
    kind = forms.ChoiceField(
        choices=Workspace.Kind.choices, initial=Workspace.Kind.BUYER, widget=forms.RadioSelect, label="I want to"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [
            (Workspace.Kind.BUYER, "Find and buy leads"),
            (Workspace.Kind.PARTNER, "Sell leads as a partner"),
        ]


class InvitationSignupForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Your name")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        min_length=8,
        help_text="At least 8 characters, not entirely numeric.",
    )


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=120, label="Workspace name", validators=[validate_single_line])
    kind = forms.ChoiceField(choices=Workspace.Kind.choices, initial=Workspace.Kind.BUYER)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=80, label="Key name", initial="API key", help_text="Where the key is used, e.g. “CRM sync”."
    )


class WorkspaceTimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        help_text="Sequences mail leads in their own time zone when their state or country gives one, else in this one.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name.replace("_", " ")) for name in time_zone_names()]


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(choices=[(Membership.Role.MEMBER, "Member"), (Membership.Role.ADMIN, "Admin")])


class WorkspaceAdminForm(forms.ModelForm):
    name = forms.CharField(max_length=120, validators=[validate_single_line])

    class Meta:
        model = Workspace
        fields = ["name", "kind", "created_at"]
