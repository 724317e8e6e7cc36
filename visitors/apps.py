from django.apps import AppConfig


class VisitorsConfig(AppConfig):
    name = "visitors"

    def ready(self):
        from django_q.models import Schedule

        from cursive.schedules import Recurring, register

        register(Recurring("pixel event partitions", "visitors.tasks.event_partitions_ensure", Schedule.DAILY))
