from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "sequences"
    verbose_name = "Sequences"

    def ready(self):
        from django_q.models import Schedule

        from cursive.schedules import Recurring, register

        register(Recurring("sequence sends", "sequences.tasks.send_loop", Schedule.MINUTES, minutes=1))
