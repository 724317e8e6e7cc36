import datetime as dt

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import IsWorkspaceManager, IsWorkspaceMember
from cursive.api.pagination import CURSOR_PARAMETERS, page_of, paginated_response
from cursive.api.views import WorkspaceAPIView
from cursive.errors import ValidationFailed

from . import selectors, services
from .models import WEEKDAYS, Enrollment, Mailbox, Sequence, Step

NO_IMAP_NOTE = "Replies and bounces are not read: add IMAP settings so that a reply stops the sequence and bounces are caught."


# --- Mailboxes -------------------------------------------------------------------------------------------------


class MailboxSerializer(serializers.ModelSerializer):
    reads_replies = serializers.BooleanField(read_only=True, help_text="False without IMAP settings: see `note`.")
    note = serializers.SerializerMethodField()

    class Meta:
        model = Mailbox
        fields = (
            "id",
            "email",
            "from_name",
            "smtp_host",
            "smtp_port",
            "smtp_username",
            "smtp_security",
            "imap_host",
            "imap_port",
            "imap_username",
            "imap_security",
            "daily_limit",
            "hourly_limit",
            "min_gap_seconds",
            "warmup",
            "status",
            "last_error",
            "reads_replies",
            "note",
            "created_at",
        )

    def get_note(self, mailbox) -> str | None:
        return None if mailbox.reads_replies else NO_IMAP_NOTE


class MailboxInputSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    from_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    smtp_host = serializers.CharField(max_length=253)
    smtp_port = serializers.IntegerField(min_value=1, max_value=65535)
    smtp_username = serializers.CharField(max_length=254, required=False, allow_blank=True, help_text="Default: the email.")
    smtp_password = serializers.CharField(max_length=1000, write_only=True, help_text="Never returned.")
    smtp_security = serializers.ChoiceField(choices=Mailbox.Security.choices, required=False)
    imap_host = serializers.CharField(max_length=253, required=False, allow_blank=True, help_text="Empty: replies are not read.")
    imap_port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True)
    imap_username = serializers.CharField(max_length=254, required=False, allow_blank=True)
    imap_password = serializers.CharField(max_length=1000, required=False, allow_blank=True, write_only=True)
    imap_security = serializers.ChoiceField(choices=Mailbox.Security.choices, required=False)
    daily_limit = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    hourly_limit = serializers.IntegerField(min_value=1, max_value=1_000, required=False)
    min_gap_seconds = serializers.IntegerField(min_value=0, max_value=86_400, required=False)
    warmup = serializers.BooleanField(required=False)


def _mailbox_permissions(method: str) -> list:
    # Mailboxes hold the workspace's mail credentials: owners and admins change them, every member may list
    # them to choose one for a sequence.
    return [IsWorkspaceMember()] if method in ("GET", "HEAD", "OPTIONS") else [IsWorkspaceManager()]


class MailboxListCreateView(WorkspaceAPIView):
    def get_permissions(self):
        return _mailbox_permissions(self.request.method)

    @extend_schema(parameters=CURSOR_PARAMETERS, responses=page_of(MailboxSerializer), operation_id="v1_mailboxes_list")
    def get(self, request):
        mailboxes = selectors.mailboxes_list(workspace=request.workspace)
        return paginated_response(request, mailboxes, ordering=("email", "id"), serializer_class=MailboxSerializer)

    @extend_schema(
        request=MailboxInputSerializer,
        responses={201: MailboxSerializer},
        description="The SMTP server (and IMAP when given) is tried first: 400 `mailbox_unreachable` names what failed.",
    )
    def post(self, request):
        data = MailboxInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mailbox = services.mailbox_create(workspace=request.workspace, data=data.validated_data)
        return Response(MailboxSerializer(mailbox).data, status=201)


class MailboxDetailView(WorkspaceAPIView):
    def get_permissions(self):
        return _mailbox_permissions(self.request.method)

    @extend_schema(responses=MailboxSerializer)
    def get(self, request, mailbox_id: int):
        return Response(MailboxSerializer(selectors.mailbox_get(workspace=request.workspace, mailbox_id=mailbox_id)).data)

    @extend_schema(
        request=MailboxInputSerializer(partial=True),
        responses=MailboxSerializer,
        description="Passwords left out stay as they are. A changed server setting or password is tried first.",
    )
    def patch(self, request, mailbox_id: int):
        selectors.mailbox_get(workspace=request.workspace, mailbox_id=mailbox_id)
        data = MailboxInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        mailbox = services.mailbox_update(workspace=request.workspace, mailbox_id=mailbox_id, data=data.validated_data)
        return Response(MailboxSerializer(mailbox).data)

    @extend_schema(responses={204: None}, description="409 `mailbox_in_use` while sequences send from it.")
    def delete(self, request, mailbox_id: int):
        services.mailbox_delete(workspace=request.workspace, mailbox_id=mailbox_id)
        return Response(status=204)


# --- Sequences -------------------------------------------------------------------------------------------------


class StepInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Step.Kind.choices)
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True, help_text="email: {{variable|fallback}}")
    body = serializers.CharField(max_length=20_000, required=False, allow_blank=True, help_text="email: plain text")
    hours = serializers.IntegerField(min_value=1, max_value=24 * 90, required=False, help_text="wait")
    days = serializers.IntegerField(min_value=1, max_value=90, required=False, help_text="wait, instead of hours")
    condition = serializers.ChoiceField(choices=Step.Condition.choices, required=False, help_text="condition")
    path = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="condition `visited`")
    if_met = serializers.ChoiceField(choices=Step.Then.choices, required=False)
    if_not_met = serializers.ChoiceField(choices=Step.Then.choices, required=False)


class StepSerializer(serializers.Serializer):
    """A step as it goes out: only the keys of its type."""

    id = serializers.IntegerField()
    position = serializers.IntegerField(help_text="0-based")
    type = serializers.ChoiceField(choices=Step.Kind.choices)
    subject = serializers.CharField(required=False)
    body = serializers.CharField(required=False)
    hours = serializers.IntegerField(required=False)
    condition = serializers.ChoiceField(choices=Step.Condition.choices, required=False)
    path = serializers.CharField(required=False)
    if_met = serializers.ChoiceField(choices=Step.Then.choices, required=False)
    if_not_met = serializers.ChoiceField(choices=Step.Then.choices, required=False)

    def to_representation(self, step):
        return {"id": step.pk, "position": step.position, **services.step_data(step)}


class SendWindowSerializer(serializers.Serializer):
    days = serializers.ListField(child=serializers.ChoiceField(choices=WEEKDAYS), min_length=1, max_length=7)
    start = serializers.CharField(max_length=5, help_text="HH:MM")
    end = serializers.CharField(max_length=5, help_text="HH:MM")


class SequenceInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    mailbox_id = serializers.IntegerField(min_value=1)
    steps = StepInputSerializer(many=True, required=False, max_length=services.MAX_STEPS)
    stop_on_reply = serializers.BooleanField(required=False)
    send_window = SendWindowSerializer(
        required=False, help_text="In the recipient's time zone where known; default Monday to Friday 08:00-18:00."
    )
    skip_holidays = serializers.BooleanField(required=False)
    track_opens = serializers.BooleanField(required=False, help_text="Off by default; opens are unreliable.")
    website_enabled = serializers.BooleanField(required=False, help_text="Enrol identified website visitors who match.")
    website_min_score = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    website_path_contains = serializers.CharField(max_length=200, required=False, allow_blank=True)
    segment_id = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Enrol every new person a pull of this segment adds."
    )


class SequencePatchSerializer(SequenceInputSerializer):
    name = serializers.CharField(max_length=120, required=False)
    mailbox_id = serializers.IntegerField(min_value=1, required=False)
    send_window = SendWindowSerializer(required=False, partial=True)
    status = serializers.ChoiceField(choices=[Sequence.Status.ACTIVE, Sequence.Status.PAUSED], required=False)


class StatsSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField()
    opened_unreliable = serializers.BooleanField(
        help_text="True when opens are tracked: mail apps and scanners load images themselves."
    )
    clicked = serializers.IntegerField()
    replied = serializers.IntegerField()
    bounced = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()
    completed = serializers.IntegerField()
    reply_rate = serializers.FloatField(allow_null=True, help_text="People who replied per message sent; null before any send.")


class SequenceSerializer(serializers.ModelSerializer):
    mailbox_id = serializers.IntegerField()
    segment_id = serializers.IntegerField(allow_null=True)
    steps = serializers.SerializerMethodField()
    send_window = serializers.SerializerMethodField()

    class Meta:
        model = Sequence
        fields = (
            "id",
            "name",
            "status",
            "mailbox_id",
            "steps",
            "stop_on_reply",
            "send_window",
            "skip_holidays",
            "track_opens",
            "website_enabled",
            "website_min_score",
            "website_path_contains",
            "segment_id",
            "activated_at",
            "created_at",
        )

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, sequence) -> list:
        return StepSerializer(sorted(sequence.steps.all(), key=lambda step: step.position), many=True).data

    @extend_schema_field(SendWindowSerializer)
    def get_send_window(self, sequence) -> dict:
        return {
            "days": list(sequence.send_days),
            "start": sequence.send_start.strftime("%H:%M"),
            "end": services.END_OF_DAY if sequence.send_end == dt.time.max else sequence.send_end.strftime("%H:%M"),
        }


class SequenceDetailSerializer(SequenceSerializer):
    stats = serializers.SerializerMethodField()

    class Meta(SequenceSerializer.Meta):
        fields = (*SequenceSerializer.Meta.fields, "stats")

    @extend_schema_field(StatsSerializer)
    def get_stats(self, sequence) -> dict:
        stats = selectors.sequence_stats(sequence=sequence)
        rate = stats.reply_rate
        return {
            **stats.as_dict(),
            "opened_unreliable": sequence.track_opens,
            "reply_rate": None if rate is None else round(rate, 4),
        }


class SequenceListCreateView(WorkspaceAPIView):
    @extend_schema(parameters=CURSOR_PARAMETERS, responses=page_of(SequenceSerializer), operation_id="v1_sequences_list")
    def get(self, request):
        sequences = selectors.sequences_list(workspace=request.workspace).prefetch_related("steps")
        return paginated_response(request, sequences, ordering=("-created_at", "-id"), serializer_class=SequenceSerializer)

    @extend_schema(request=SequenceInputSerializer, responses={201: SequenceDetailSerializer})
    def post(self, request):
        data = SequenceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sequence = services.sequence_create(workspace=request.workspace, data=data.validated_data, created_by=request.user)
        return Response(SequenceDetailSerializer(_fresh(request, sequence.pk)).data, status=201)


def _fresh(request, sequence_id) -> Sequence:
    return selectors.sequence_get(workspace=request.workspace, sequence_id=sequence_id)


class SequenceDetailView(WorkspaceAPIView):
    @extend_schema(responses=SequenceDetailSerializer)
    def get(self, request, sequence_id: int):
        return Response(SequenceDetailSerializer(_fresh(request, sequence_id)).data)

    @extend_schema(
        request=SequencePatchSerializer,
        responses=SequenceDetailSerializer,
        description=(
            '`{"status": "active"}` starts sending, `"paused"` pauses it. `steps` replaces the list: once a sequence '
            "has started, steps can be edited and added at the end, not removed or reordered (409 `sequence_started`)."
        ),
    )
    def patch(self, request, sequence_id: int):
        _fresh(request, sequence_id)
        data = SequencePatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.sequence_update(workspace=request.workspace, sequence_id=sequence_id, data=data.validated_data)
        return Response(SequenceDetailSerializer(_fresh(request, sequence_id)).data)

    @extend_schema(responses={204: None}, description="409 `sequence_active` until the sequence is paused.")
    def delete(self, request, sequence_id: int):
        services.sequence_delete(workspace=request.workspace, sequence_id=sequence_id)
        return Response(status=204)


# --- Enrolments ------------------------------------------------------------------------------------------------


class EnrollmentSerializer(serializers.ModelSerializer):
    lead_id = serializers.IntegerField()

    class Meta:
        model = Enrollment
        fields = (
            "id",
            "lead_id",
            "email",
            "status",
            "source",
            "current_step",
            "next_send_at",
            "stop_reason",
            "enrolled_at",
            "finished_at",
        )


class EnrolInputSerializer(serializers.Serializer):
    lead_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=services.MAX_ENROL_AT_ONCE
    )


class SkippedSerializer(serializers.Serializer):
    lead_id = serializers.IntegerField()
    reason = serializers.CharField(
        help_text="no_email, invalid_email, suppressed, already_enrolled, missing_variable or not_found"
    )
    detail = serializers.CharField(required=False)


class EnrolResultSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    skipped = SkippedSerializer(many=True)


class EnrollmentListCreateView(WorkspaceAPIView):
    @extend_schema(
        parameters=[*CURSOR_PARAMETERS, OpenApiParameter("status", str, enum=Enrollment.Status.values)],
        responses=page_of(EnrollmentSerializer),
        operation_id="v1_sequence_enrollments_list",
    )
    def get(self, request, sequence_id: int):
        sequence = _fresh(request, sequence_id)
        status = request.query_params.get("status") or None
        if status is not None and status not in Enrollment.Status.values:
            raise ValidationFailed(
                f"`status` is one of {', '.join(Enrollment.Status.values)}.", fields={"status": ["Unknown status."]}
            )
        enrollments = selectors.enrollments_list(workspace=request.workspace, sequence=sequence, status=status)
        return paginated_response(request, enrollments, ordering=("-enrolled_at", "-id"), serializer_class=EnrollmentSerializer)

    @extend_schema(
        request=EnrolInputSerializer,
        responses={200: EnrolResultSerializer},
        description="Leads that cannot be enrolled are skipped with their reason; the others start at step 1.",
    )
    def post(self, request, sequence_id: int):
        _fresh(request, sequence_id)
        data = EnrolInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.enrollments_create(
            workspace=request.workspace,
            sequence_id=sequence_id,
            lead_ids=data.validated_data["lead_ids"],
            source=Enrollment.Source.API,
        )
        return Response({"enrolled": result.enrolled, "skipped": result.skipped})
