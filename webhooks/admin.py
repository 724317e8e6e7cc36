from django.contrib import admin

from cursive.admin_base import ReadOnlyAdmin

from .models import Delivery, Endpoint, SlackAlertSent


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "kind", "workspace", "status", "disabled_by", "failing_since", "created_at"]
    list_filter = ["kind", "status", "disabled_by"]
    search_fields = ["url", "description", "workspace__name"]
    list_select_related = ["workspace"]
    exclude = ["secret_encrypted", "previous_secret_encrypted"]
    readonly_fields = ["failing_since", "failure_warning_sent_at", "disabled_at", "created_at"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "endpoint", "event", "status", "attempts", "response_status", "next_attempt_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["event__public_id", "endpoint__url"]
    list_select_related = ["endpoint", "event"]


@admin.register(SlackAlertSent)
class SlackAlertSentAdmin(ReadOnlyAdmin):
    list_display = ["endpoint", "subject", "sent_at"]
