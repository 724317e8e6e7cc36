from django import forms

from .models import Delivery
from .services import SUBSCRIBABLE

EVENT_CHOICES = [(event, event) for event in SUBSCRIBABLE]
SLACK_SUGGESTED = ["visitor.identified", "credits.low"]


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/cursive-webhooks"}),
    )
    send = forms.ChoiceField(
        label="Events to send",
        choices=[("all", "Every event, including types added later"), ("chosen", "Only the events chosen below")],
        initial="all",
        widget=forms.RadioSelect,
    )
    events = forms.MultipleChoiceField(label="Events", choices=EVENT_CHOICES, required=False, widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(max_length=300, required=False, widget=forms.TextInput(attrs={"placeholder": "HubSpot sync"}))

    @classmethod
    def for_endpoint(cls, endpoint, data=None):
        initial = {
            "url": endpoint.url,
            "send": "chosen" if endpoint.events else "all",
            "events": endpoint.events,
            "description": endpoint.description,
            "min_score": endpoint.min_score,
            "cooldown_minutes": endpoint.cooldown_minutes,
        }
        return cls(data, initial=initial)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("send") == "chosen" and not cleaned.get("events") and "events" not in self.errors:
            self.add_error("events", "Choose at least one event, or send every event.")
        return cleaned

    def changes(self) -> dict:
        """The service's keyword arguments: an empty list of events means every event."""
        data = dict(self.cleaned_data)
        if data.pop("send") == "all":
            data["events"] = []
        return data


class SlackAlertForm(EndpointForm):
    url = forms.CharField(
        label="Slack incoming-webhook URL",
        max_length=2000,
        help_text="In Slack: Apps → Incoming Webhooks → Add to Slack, choose the channel, and copy the Webhook URL.",
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.slack.com/services/…"}),
    )
    send = forms.ChoiceField(
        label="Alert on",
        choices=[("all", "Every event"), ("chosen", "Only the events chosen below")],
        initial="chosen",
        widget=forms.RadioSelect,
    )
    events = forms.MultipleChoiceField(
        label="Events", choices=EVENT_CHOICES, required=False, initial=SLACK_SUGGESTED, widget=forms.CheckboxSelectMultiple
    )
    min_score = forms.IntegerField(
        label="Minimum score",
        min_value=0,
        max_value=100,
        required=False,
        help_text="Only visitors and leads scoring at least this (e.g. 70). Empty: every one.",
    )
    cooldown_minutes = forms.IntegerField(
        label="Cool-down (minutes)",
        min_value=0,
        max_value=7 * 24 * 60,
        initial=60,
        help_text="At most one message per visitor or lead in this time. 0: no cool-down.",
    )
    description = forms.CharField(max_length=300, required=False, widget=forms.TextInput(attrs={"placeholder": "#sales alerts"}))


class ReplayForm(forms.Form):
    since = forms.DateTimeField(
        label="Replay everything since (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Delivery.Status.choices], required=False)
