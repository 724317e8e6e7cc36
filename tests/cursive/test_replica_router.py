"""The replica router without a replica: what stays on the primary, and the fences that writes leave. The reads that
do go to a real streaming replica are in test_replicas.py."""

import pytest
from django.db import connection

from cursive.jobs import job_enqueue, job_run
from cursive.replicas import ReplicaRouter, replica_alias, replica_reads
from leads.models import Lead

pytestmark = pytest.mark.django_db


def fences() -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT workspace_id, lsn FROM cursive_replica_fence")
        return dict(cursor.fetchall())


def test_without_replicas_every_read_is_on_the_primary_and_no_write_is_fenced(tenant, django_capture_on_commit_callbacks):
    with replica_reads(workspace=tenant.workspace):
        assert ReplicaRouter().db_for_read(Lead) == "default"
    assert replica_alias(workspace=tenant.workspace) == "default"
    with django_capture_on_commit_callbacks(execute=True):
        assert tenant.api().post("/api/v1/segments", {"name": "VPs"}, format="json").status_code == 201
    assert fences() == {}


def test_a_write_request_fences_its_workspace_and_a_read_does_not(
    settings, tenant, other_tenant, django_capture_on_commit_callbacks
):
    settings.DATABASE_REPLICAS = ["replica1"]
    with django_capture_on_commit_callbacks(execute=True):
        assert other_tenant.api().get("/api/v1/leads").status_code == 200
    assert fences() == {}
    with django_capture_on_commit_callbacks(execute=True):
        assert tenant.api().post("/api/v1/segments", {"name": "VPs"}, format="json").status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint")
        now = cursor.fetchone()[0]
    assert list(fences()) == [tenant.workspace.pk]
    assert 0 < fences()[tenant.workspace.pk] <= now


def test_a_job_that_wrote_for_a_workspace_fences_it(settings, tenant, django_capture_on_commit_callbacks):
    settings.DATABASE_REPLICAS = ["replica1"]
    job = job_enqueue("leads.tasks.rescore_workspace", workspace_id=tenant.workspace.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert job_run(job.pk) == "succeeded"
    assert list(fences()) == [tenant.workspace.pk]


def test_writes_and_migrations_only_ever_go_to_the_primary(settings):
    settings.DATABASE_REPLICAS = ["replica1"]
    router = ReplicaRouter()
    assert router.db_for_write(Lead) == "default"
    assert router.allow_migrate("default", "leads") is True
    assert router.allow_migrate("replica1", "leads") is False
