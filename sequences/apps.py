from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "sequences"
    verbose_name = "Sequences"

    def ready(self):
        from django.conf import settings
        from django_q.models import Schedule

        from cursive.schedules import Recurring, register

        # Schedules run by the minute at best: a shorter MAILBOX_POLL_SECONDS still polls once a minute.
        register(
            Recurring(
                "mailbox replies and bounces",
                "sequences.tasks.mailboxes_poll",
                Schedule.MINUTES,
                minutes=max(1, settings.MAILBOX_POLL_SECONDS // 60),
            )
        )
