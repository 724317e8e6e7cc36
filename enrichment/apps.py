from django.apps import AppConfig


class EnrichmentConfig(AppConfig):
    name = "enrichment"

    def ready(self):
        from django_q.models import Schedule

        from credits.consistency import register_reference
        from cursive.schedules import Recurring, register

        from .models import Enrichment

        register_reference(
            "enrichment",
            lambda ids: set(Enrichment.objects.filter(pk__in=ids).exclude(confirmed_at=None).values_list("pk", flat=True)),
        )
        register(
            Recurring("resume stalled enrichments", "enrichment.services.enrichments_resume_stale", Schedule.MINUTES, minutes=1)
        )
        register(Recurring("expire old enrichments", "enrichment.services.enrichments_expire", Schedule.HOURLY))
