"""The sequence pages' forms: they parse what a person typed into the dicts `sequences.services` takes; the
services decide what is valid for the workspace (its mailboxes, its segments, the step rules)."""

from __future__ import annotations

from django import forms

from .models import WEEKDAYS, Mailbox, Sequence, Step

DAY_CHOICES = [(day, day.capitalize()) for day in WEEKDAYS]

# Connect form presets: the servers and security the big providers document for app passwords.
MAILBOX_PRESETS = {
    "gmail": {
        "label": "Gmail / Google Workspace",
        "smtp_host": "smtp.gmail.com",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "imap_host": "imap.gmail.com",
        "imap_port": 993,
        "imap_security": "tls",
        "help": "Use an app password (Google Account → Security → App passwords), not your usual password.",
    },
    "outlook": {
        "label": "Outlook / Office 365",
        "smtp_host": "smtp.office365.com",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "imap_host": "outlook.office365.com",
        "imap_port": 993,
        "imap_security": "tls",
        "help": "SMTP AUTH must be allowed for this mailbox in the Microsoft 365 admin center.",
    },
    "custom": {"label": "Other (custom SMTP/IMAP)", "help": "Your provider's SMTP and IMAP settings."},
}


class MailboxForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    from_name = forms.CharField(label="Sender name", max_length=120, required=False)
    smtp_host = forms.CharField(label="SMTP host", max_length=253)
    smtp_port = forms.IntegerField(label="SMTP port", min_value=1, max_value=65535, initial=587)
    smtp_security = forms.ChoiceField(label="SMTP security", choices=Mailbox.Security.choices, initial="starttls")
    smtp_username = forms.CharField(
        label="SMTP user name", max_length=254, required=False, help_text="Usually the email address (used when empty)."
    )
    smtp_password = forms.CharField(label="SMTP password", max_length=1000, required=False, widget=forms.PasswordInput)
    imap_host = forms.CharField(
        label="IMAP host",
        max_length=253,
        required=False,
        help_text="To read replies and bounces. Without IMAP, replies do not stop a sequence and bounces are not seen.",
    )
    imap_port = forms.IntegerField(label="IMAP port", min_value=1, max_value=65535, required=False)
    imap_security = forms.ChoiceField(label="IMAP security", choices=Mailbox.Security.choices, initial="tls")
    imap_username = forms.CharField(label="IMAP user name", max_length=254, required=False)
    imap_password = forms.CharField(label="IMAP password", max_length=1000, required=False, widget=forms.PasswordInput)
    daily_limit = forms.IntegerField(label="Emails per day", min_value=1, max_value=10_000, initial=200)
    hourly_limit = forms.IntegerField(label="Emails per hour", min_value=1, max_value=1_000, initial=50)
    min_gap_seconds = forms.IntegerField(
        label="Seconds between emails", min_value=0, max_value=86_400, initial=60, help_text="At least this, with jitter."
    )
    warmup = forms.BooleanField(
        label="Warm up", required=False, initial=True, help_text="Ramp the daily limit up over the mailbox's first days."
    )

    PASSWORDS = ("smtp_password", "imap_password")

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:
            for name in self.PASSWORDS:
                self.fields[name].help_text = "Leave empty to keep the saved password (it is never shown)."

    @classmethod
    def for_mailbox(cls, mailbox: Mailbox, data=None):
        initial = {name: getattr(mailbox, name) for name in cls.base_fields if name not in cls.PASSWORDS}
        return cls(data, initial=initial, editing=True)

    @classmethod
    def with_preset(cls, preset: str):
        values = MAILBOX_PRESETS.get(preset, {})
        return cls(initial={name: value for name, value in values.items() if name in cls.base_fields})

    def changes(self) -> dict:
        """What the service gets: on an edit, only the fields that changed and the passwords typed, so saving a
        new hourly limit does not log in to the servers again."""
        data = dict(self.cleaned_data)
        if self.editing:
            data = {name: value for name, value in data.items() if name in self.changed_data and name not in self.PASSWORDS}
            data.update({name: self.cleaned_data[name] for name in self.PASSWORDS if self.cleaned_data.get(name)})
        elif not data.get("smtp_username"):
            data["smtp_username"] = data["email"]
        return data


class SequenceForm(forms.Form):
    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"placeholder": "Pricing page visitors"}))
    mailbox_id = forms.TypedChoiceField(label="Send from", coerce=int)
    stop_on_reply = forms.BooleanField(label="Stop when the person replies", required=False, initial=True)
    send_days = forms.MultipleChoiceField(
        label="Send on", choices=DAY_CHOICES, initial=["mon", "tue", "wed", "thu", "fri"], widget=forms.CheckboxSelectMultiple
    )
    send_start = forms.TimeField(label="From", initial="08:00", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    send_end = forms.TimeField(label="Until", initial="18:00", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    skip_holidays = forms.BooleanField(label="Skip public holidays", required=False, help_text="The recipient's country's.")
    track_opens = forms.BooleanField(
        label="Track opens",
        required=False,
        help_text="Unreliable: Apple Mail and security scanners load the pixel themselves, so opens are inflated.",
    )
    website_enabled = forms.BooleanField(label="Enrol identified website visitors", required=False)
    website_min_score = forms.IntegerField(label="Minimum score", min_value=0, max_value=100, required=False)
    website_path_contains = forms.CharField(
        label="Visited a page whose path contains",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "/pricing"}),
    )
    segment_id = forms.TypedChoiceField(label="Enrol new people of segment", coerce=int, required=False, empty_value=None)

    def __init__(self, *args, mailboxes=(), segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mailbox_id"].choices = [(mailbox.pk, mailbox.email) for mailbox in mailboxes]
        self.fields["segment_id"].choices = [("", "None"), *((segment.pk, segment.name) for segment in segments)]

    @classmethod
    def for_sequence(cls, sequence: Sequence, data=None, **choices):
        initial = {
            "name": sequence.name,
            "mailbox_id": sequence.mailbox_id,
            "stop_on_reply": sequence.stop_on_reply,
            "send_days": sequence.send_days,
            "send_start": sequence.send_start,
            "send_end": sequence.send_end,
            "skip_holidays": sequence.skip_holidays,
            "track_opens": sequence.track_opens,
            "website_enabled": sequence.website_enabled,
            "website_min_score": sequence.website_min_score,
            "website_path_contains": sequence.website_path_contains,
            "segment_id": sequence.segment_id,
        }
        return cls(data, initial=initial, **choices)

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        data["send_window"] = {
            "days": data.pop("send_days"),
            "start": data.pop("send_start").strftime("%H:%M"),
            "end": data.pop("send_end").strftime("%H:%M"),
        }
        return data


class StepForm(forms.Form):
    """One step edited in place; its kind never changes (remove it and add another instead)."""

    subject = forms.CharField(max_length=300, required=False)
    body = forms.CharField(max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 6}))
    wait = forms.IntegerField(label="Wait", min_value=1, max_value=2160, required=False)
    wait_unit = forms.ChoiceField(label="Unit", choices=[("days", "days"), ("hours", "hours")], required=False)
    condition = forms.ChoiceField(label="If the person", choices=Step.Condition.choices, required=False)
    path = forms.CharField(label="Page path contains", max_length=200, required=False)
    if_met = forms.ChoiceField(label="Then", choices=Step.Then.choices, required=False)
    if_not_met = forms.ChoiceField(label="Otherwise", choices=Step.Then.choices, required=False)

    def raw_step(self, kind: str) -> dict:
        """The step as `services.step_input` reads it; the service says what is missing."""
        data = self.cleaned_data
        if kind == Step.Kind.EMAIL:
            return {"type": kind, "subject": data["subject"], "body": data["body"]}
        if kind == Step.Kind.WAIT:
            return {"type": kind, data["wait_unit"] or "hours": data["wait"]}
        return {
            "type": kind,
            "condition": data["condition"],
            "path": data["path"],
            "if_met": data["if_met"] or Step.Then.CONTINUE,
            "if_not_met": data["if_not_met"] or Step.Then.CONTINUE,
        }


# What "Add email / wait / condition" puts at the end, to be edited in place: an email step cannot be empty.
NEW_STEPS = {
    Step.Kind.EMAIL: {
        "type": "email",
        "subject": "Quick question, {{first_name|there}}",
        "body": "Hi {{first_name|there}},\n\nI noticed {{company_name|your team}} ...\n\nBest,",
    },
    Step.Kind.WAIT: {"type": "wait", "days": 2},
    Step.Kind.CONDITION: {"type": "condition", "condition": "replied", "if_met": "stop", "if_not_met": "continue"},
}
