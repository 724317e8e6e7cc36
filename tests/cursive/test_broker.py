"""Handing a task to the queue costs one INSERT: no connection health check before it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.tasks import async_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_hand_off_is_one_insert_into_the_queue(settings, monkeypatch):
    """The health check (`is_usable`, a SELECT 1 sent past Django's query log) is counted where it is made."""
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]
    connection.ensure_connection()
    checks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or is_usable())
    with CaptureQueriesContext(connection) as queries:
        async_task("cursive.tasks.worker_heartbeat", task_name="heartbeat")
    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["INSERT"]
    assert checks == []
    assert OrmQ.objects.filter(key=settings.Q_CLUSTER["name"]).count() == 1


def test_the_cluster_takes_what_was_handed_off():
    async_task("cursive.tasks.worker_heartbeat", task_name="heartbeat")
    broker = get_broker()
    assert broker.queue_size() == 1
    [(task_id, _payload)] = broker.dequeue()
    broker.acknowledge(task_id)
    assert broker.queue_size() == 0
