from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self):
        from django_q.models import Schedule

        from leads.signals import leads_rescored

        from .services import leads_rescored_receiver

        leads_rescored.connect(leads_rescored_receiver, dispatch_uid="analytics.leads_rescored")

        from cursive.schedules import Recurring, register

        register(
            Recurring("analytics rollup (recent)", "analytics.services.analytics_rollup_recent", Schedule.MINUTES, minutes=5)
        )
        register(Recurring("analytics rollup (all)", "analytics.services.analytics_rollup_all", Schedule.DAILY))
