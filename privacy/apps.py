from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"

    def ready(self):
        from django_q.models import Schedule

        from credits.consistency import register_reference
        from cursive.schedules import Recurring, register

        from .models import ErasureRefund

        register_reference(
            "erasure_refund", lambda ids: set(ErasureRefund.objects.filter(pk__in=ids).values_list("pk", flat=True))
        )
        register(Recurring("expire opt-out requests", "privacy.services.opt_out_requests_expire", Schedule.HOURLY))
