from django.contrib import admin

from cursive.admin_base import ReadOnlyAdmin

from .models import Activity, BounceRefund, Enrollment, InboundMessage, Mailbox, Message, Sequence, Step


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ["email", "workspace", "status", "daily_limit", "hourly_limit", "sent_today", "imap_polled_at"]
    list_filter = ["status", "smtp_security"]
    search_fields = ["email", "smtp_host", "workspace__name"]
    list_select_related = ["workspace"]
    # Passwords are encrypted and never shown; staff fix a mailbox by asking its owner to enter them again.
    exclude = ["smtp_password", "imap_password"]
    readonly_fields = ["last_error", "last_error_at", "imap_error", "imap_polled_at", "imap_uidvalidity", "imap_last_uid"]


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    fields = ["position", "kind", "subject", "wait_hours", "condition", "if_met", "if_not_met"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Sequence)
class SequenceAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "mailbox", "status", "website_enabled", "created_at"]
    list_filter = ["status", "website_enabled", "track_opens"]
    search_fields = ["name", "workspace__name", "mailbox__email"]
    list_select_related = ["workspace", "mailbox"]
    raw_id_fields = ["mailbox", "segment", "created_by"]
    inlines = [StepInline]


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ["email", "sequence", "status", "current_step", "next_send_at", "source", "enrolled_at"]
    list_filter = ["status", "source"]
    search_fields = ["email", "sequence__name"]
    list_select_related = ["sequence"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "to_email", "status", "attempts", "sent_at", "replied_at", "bounced_at"]
    list_filter = ["status"]
    search_fields = ["message_id", "to_email"]


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["enrollment", "kind", "detail", "created_at"]
    list_filter = ["kind"]


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["mailbox", "kind", "from_email", "subject", "bounced_email", "hard_bounce", "received_at"]
    list_filter = ["kind", "hard_bounce"]
    search_fields = ["from_email", "subject", "message_id", "bounced_email"]


@admin.register(BounceRefund)
class BounceRefundAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "acquired_reference", "credits", "source", "created_at"]
    list_filter = ["source"]
