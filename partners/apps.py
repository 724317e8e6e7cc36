from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"

    def ready(self):
        from django_q.models import Schedule

        from credits.consistency import register_reference
        from cursive.consistency import register_check
        from cursive.schedules import Recurring, register

        from .consistency import CHECKS, resolve_payouts

        register_reference("payout", resolve_payouts)
        for name, check in CHECKS.items():
            register_check(name, check)
        register(Recurring("resume stalled uploads", "partners.services.uploads_resume_stale", Schedule.MINUTES, minutes=1))
