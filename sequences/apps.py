from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "sequences"
    verbose_name = "Sequences"

    def ready(self):
        from credits.consistency import register_reference

        from .models import BounceRefund

        register_reference("bounce_refund", lambda ids: set(BounceRefund.objects.filter(pk__in=ids).values_list("pk", flat=True)))
