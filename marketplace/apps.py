from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"

    def ready(self):
        from django_q.models import Schedule

        from credits.consistency import register_reference
        from cursive.consistency import register_check
        from cursive.schedules import Recurring, register

        from .consistency import CHECKS, resolve_purchases

        register_reference("purchase", resolve_purchases)
        for name, check in CHECKS.items():
            register_check(name, check)
        register(
            Recurring(
                "release expired lead reservations",
                "marketplace.services.reservations_release_expired",
                Schedule.MINUTES,
                minutes=1,
            )
        )
