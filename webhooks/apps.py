import datetime as dt

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self):
        from django.db.models import Exists, Max, OuterRef, Q
        from django_q.models import Schedule

        from cursive import retention
        from cursive.events import on_emitted
        from cursive.schedules import Recurring, register

        from . import tasks
        from .models import Delivery, Endpoint

        on_emitted("webhooks", tasks.wake_deliverers)
        register(Recurring("webhook deliveries", "webhooks.tasks.deliver", Schedule.MINUTES, minutes=1))

        # A delivery still pending is still being tried, whatever its age (the retry schedule ends in days).
        retention.register(
            "webhook deliveries",
            retention.Rule(
                "webhooks.Delivery",
                "created_at",
                retention.days("WEBHOOK_DELIVERY_RETENTION_DAYS"),
                lambda: ~Q(status=Delivery.Status.PENDING),
            ),
        )
        # A row only serves its endpoint's cool-down: past the longest one set, nothing reads it.
        retention.register(
            "slack alert cool-downs",
            retention.Rule(
                "webhooks.SlackAlertSent",
                "sent_at",
                lambda: dt.timedelta(minutes=Endpoint.objects.aggregate(longest=Max("cooldown_minutes"))["longest"] or 0),
            ),
        )
        # The dispatcher must have turned an event into its deliveries, and those must be gone, before it may go.
        retention.hold(
            "outbox events",
            "webhooks",
            lambda: Q(dispatched_at__isnull=False) & ~Exists(Delivery.objects.filter(event=OuterRef("pk"))),
        )
