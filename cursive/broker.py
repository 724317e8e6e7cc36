"""The job queue's broker: django-q2's ORM broker, minus two connection health checks on every hand-off.

The stock broker calls `close_old_connections()` when it is made (once per `async_task`) and again when it
enqueues, so with CONN_HEALTH_CHECKS the next statement is a `SELECT 1`: a credit purchase paid for two of them,
after its commit, for its two hand-offs (the confirmation job, the webhook loop). Code that enqueues runs inside a
request or a job, whose connection Django (request_started) or django-q2 (before each task) has already checked.
Everything the cluster itself does with the queue (taking tasks, acknowledging them) keeps the stock behaviour.
"""

from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ


class OrmBroker(ORM):
    def __init__(self, list_key: str | None = None):
        self.list_key = list_key or Conf.CLUSTER_NAME
        self.connection = OrmQ.objects.using(Conf.ORM)
        self.cache = self.get_cache()
        self._info = None

    def enqueue(self, task):
        return OrmQ.objects.using(Conf.ORM).create(key=self.list_key, payload=task, lock=timezone.now()).pk
