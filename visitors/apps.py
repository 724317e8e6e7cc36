from django.apps import AppConfig


class VisitorsConfig(AppConfig):
    name = "visitors"

    def ready(self):
        from django_q.models import Schedule

        from cursive.schedules import Recurring, register

        register(Recurring("pixel event partitions", "visitors.tasks.event_partitions_ensure", Schedule.DAILY))
        register(Recurring("visitor engagement to leads", "visitors.tasks.visitors_engagement_sync", Schedule.MINUTES, minutes=1))
