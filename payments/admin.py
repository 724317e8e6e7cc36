from django.contrib import admin, messages

from credits.models import StripeEvent
from credits.selectors import REFUND_WAIT_ALERT_AFTER, refunds_waiting
from cursive.admin_base import ReadOnlyAdmin

from .webhooks import stripe_event_process


class WaitingRefundFilter(admin.SimpleListFilter):
    title = "refunds waiting for their payment"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("all", "All"), ("too_long", f"More than {REFUND_WAIT_ALERT_AFTER.days} days")]

    def queryset(self, request, queryset):
        if self.value() in ("all", "too_long"):
            return queryset.filter(pk__in=refunds_waiting(too_long=self.value() == "too_long").values("pk"))
        return queryset


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "event_id", "status", "waiting_for", "attempts", "last_error"]
    list_filter = [WaitingRefundFilter, "status", "type"]
    search_fields = ["event_id", "type", "waiting_for"]
    actions = ["reprocess"]

    @admin.action(description="Reprocess the selected events")
    def reprocess(self, request, queryset):
        results = [
            stripe_event_process(event_id=event_id, force=True).status for event_id in queryset.values_list("event_id", flat=True)
        ]
        failed = results.count(StripeEvent.Status.FAILED)
        level = messages.WARNING if failed else messages.SUCCESS
        self.message_user(request, f"Reprocessed {len(results)} event(s); {failed} failed.", level)
