from django.apps import AppConfig


class VisitorsConfig(AppConfig):
    name = "visitors"

    def ready(self):
        from django_q.models import Schedule

        from credits.consistency import register_reference
        from cursive import retention
        from cursive.schedules import Recurring, register

        from . import tasks
        from .models import VisitorEnrichment

        register_reference(
            "visitor_enrichment", lambda ids: set(VisitorEnrichment.objects.filter(pk__in=ids).values_list("pk", flat=True))
        )

        register(Recurring("pixel event partitions", "visitors.tasks.event_partitions_ensure", Schedule.DAILY))
        # The biggest table: whole months go at once, by dropping their partition (no dead rows, no vacuum).
        retention.register("pixel event partitions", retention.Custom(tasks.event_partitions_drop_expired))
        register(Recurring("visitor engagement to leads", "visitors.tasks.visitors_engagement_sync", Schedule.MINUTES, minutes=1))
