from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "sequences"
    verbose_name = "Sequences"

    def ready(self):
        from django.conf import settings
        from django_q.models import Schedule

        from credits.consistency import register_reference
        from cursive import retention
        from cursive.events import on_emitted
        from cursive.schedules import Recurring, register
        from segments.signals import people_pulled

        from . import enrolment_sources
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
        on_emitted(enrolment_sources.WEBSITE_CONSUMER, enrolment_sources.wake_website_enrolment)
        register(Recurring("sequence enrolment from the website", enrolment_sources.WEBSITE_TASK, Schedule.MINUTES, minutes=1))
        people_pulled.connect(enrolment_sources.enrol_pulled_people, dispatch_uid="sequences.enrol_pulled_people")
        register(Recurring("sequence sends", "sequences.tasks.send_loop", Schedule.MINUTES, minutes=1))

        retention.register(
            "handled events",
            retention.Rule(
                "sequences.HandledEvent",
                "event_created_at",
                lambda: enrolment_sources.HANDLED_RETENTION,
                enrolment_sources.handled_events_expired,
            ),
        )
        retention.hold("outbox events", "sequences", enrolment_sources.outbox_events_handled)
        # Messages (one per enrolment and step, what keeps a step from being sent twice) stay with their
        # enrolment; the timeline rows and the emails read from mailboxes are history.
        retention.register(
            "sequence activities",
            retention.Rule("sequences.Activity", "created_at", retention.days("RETENTION_EMAIL_ACTIVITY_DAYS")),
        )
        retention.register(
            "emails read from mailboxes",
            retention.Rule("sequences.InboundMessage", "received_at", retention.days("RETENTION_INBOUND_EMAIL_DAYS")),
        )
