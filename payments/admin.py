from django.contrib import admin, messages

from credits.models import StripeEvent
from cursive.admin_base import ReadOnlyAdmin

from .webhooks import stripe_event_process


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "event_id", "status", "attempts", "last_error"]
    list_filter = ["status", "type"]
    search_fields = ["event_id", "type"]
    actions = ["reprocess"]

    @admin.action(description="Reprocess the selected events")
    def reprocess(self, request, queryset):
        results = [stripe_event_process(event_id=event_id, force=True).status
                   for event_id in queryset.values_list("event_id", flat=True)]
        failed = results.count(StripeEvent.Status.FAILED)
        level = messages.WARNING if failed else messages.SUCCESS
        self.message_user(request, f"Reprocessed {len(results)} event(s); {failed} failed.", level)
