from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"

    def ready(self):
        from django_q.models import Schedule

        from credits.consistency import register_reference
        from credits.webhooks import register_checkout_kind, register_refund_handler
        from cursive.consistency import register_check
        from cursive.schedules import Recurring, register

        from . import services
        from .consistency import CHECKS, resolve_purchases

        register_checkout_kind(
            "leads",
            complete=lambda session: services.purchase_complete_paid(session=session),
            close=lambda session, status: services.purchase_close_session(session=session, status=status),
        )
        register_refund_handler(services.purchase_card_refunded)
        register_reference("purchase", resolve_purchases)
        for name, check in CHECKS.items():
            register_check(name, check)
        register(Recurring("release expired lead reservations",
                           "marketplace.services.reservations_release_expired", Schedule.MINUTES, minutes=1))
