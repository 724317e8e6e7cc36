from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self):
        from django_q.models import Schedule

        from cursive.schedules import Recurring, register

        register(
            Recurring("analytics rollup (recent)", "analytics.services.analytics_rollup_recent", Schedule.MINUTES, minutes=5)
        )
        register(Recurring("analytics rollup (all)", "analytics.services.analytics_rollup_all", Schedule.DAILY))
