"""webhooks 0003: the secrets endpoints already have are sealed where they stand (and unsealed if it is reversed)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from webhooks.models import Endpoint

BEFORE = [("webhooks", "0002_retention_indexes")]
SECRET, PREVIOUS = "whsec_" + "A" * 32, "whsec_" + "B" * 32


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def columns() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM webhooks_endpoint ORDER BY id")
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_existing_secrets_are_sealed_and_unsealed(tenant):
    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO webhooks_endpoint (workspace_id, kind, url, description, events, status, disabled_by, secret,"
                " previous_secret, cooldown_minutes, created_at) VALUES"
                " (%s, 'webhook', 'https://a.example/hook', '', '{}', 'enabled', '', %s, %s, 60, now()),"
                " (%s, 'webhook', 'https://b.example/hook', '', '{}', 'enabled', '', %s, '', 60, now())",
                [tenant.workspace.pk, SECRET, PREVIOUS, tenant.workspace.pk, PREVIOUS],
            )
    finally:
        migrate()
    assert "whsec_" not in repr(columns())
    first, second = Endpoint.objects.order_by("pk")
    assert (first.secret, first.previous_secret) == (SECRET, PREVIOUS)
    assert (second.secret, second.previous_secret) == (PREVIOUS, "")
    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT secret, previous_secret FROM webhooks_endpoint ORDER BY id")
            assert cursor.fetchall() == [(SECRET, PREVIOUS), (PREVIOUS, "")]
    finally:
        migrate()
