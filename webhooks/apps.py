from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self):
        from django_q.models import Schedule

        from cursive.events import on_emitted
        from cursive.schedules import Recurring, register

        from . import tasks

        on_emitted("webhooks", tasks.wake_deliverers)
        register(Recurring("webhook deliveries", "webhooks.tasks.deliver", Schedule.MINUTES, minutes=1))
        register(Recurring("prune webhook deliveries", "webhooks.tasks.prune", Schedule.DAILY))
