from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "sequences"
    verbose_name = "Sequences"

    def ready(self):
        from django.conf import settings
        from django_q.models import Schedule

        from credits.consistency import register_reference
        from cursive.schedules import Recurring, register

        from .models import BounceRefund

        register_reference("bounce_refund", lambda ids: set(BounceRefund.objects.filter(pk__in=ids).values_list("pk", flat=True)))

        # Schedules run by the minute at best: a shorter MAILBOX_POLL_SECONDS still polls once a minute.
        register(
            Recurring(
                "mailbox replies and bounces",
                "sequences.tasks.mailboxes_poll",
                Schedule.MINUTES,
                minutes=max(1, settings.MAILBOX_POLL_SECONDS // 60),
            )
        )
