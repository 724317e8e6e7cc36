import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from cursive.models import WorkerHeartbeat
from cursive.tasks import HEARTBEAT_NAME, worker_heartbeat
from tests.servers import REPO

pytestmark = pytest.mark.django_db


def test_health_is_degraded_without_a_worker_heartbeat(client):
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False


def test_health_is_ok_with_a_fresh_heartbeat(client):
    worker_heartbeat()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_a_stale_heartbeat_degrades_health(client, settings):
    WorkerHeartbeat.objects.create(
        name=HEARTBEAT_NAME, beat_at=timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS + 5)
    )
    assert client.get("/health").status_code == 503


def test_heartbeat_is_scheduled_after_migrate():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="worker heartbeat")
    assert schedule.func == "cursive.tasks.worker_heartbeat"
    assert schedule.schedule_type == Schedule.MINUTES


def test_responses_carry_a_request_id_and_honour_a_sane_incoming_one(client):
    assert len(client.get("/health").headers["X-Request-ID"]) == 32
    assert client.get("/health", HTTP_X_REQUEST_ID="lb-abc.123").headers["X-Request-ID"] == "lb-abc.123"
    assert client.get("/health", HTTP_X_REQUEST_ID="bad id\n").headers["X-Request-ID"] != "bad id\n"


def test_access_log_lines_are_json_with_the_request_id(client, capsys):
    import logging

    from cursive.observability import RequestIdFilter

    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestIdFilter())
    from pythonjsonlogger.json import JsonFormatter

    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s"))
    logger = logging.getLogger("cursive.access")
    logger.addHandler(handler)
    try:
        client.get("/health", HTTP_X_REQUEST_ID="trace-42")
    finally:
        logger.removeHandler(handler)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["request_id"] == "trace-42"
    assert line["path"] == "/health"
    assert line["status"] == 503


def test_check_deploy_is_clean_under_production_settings():
    env = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 20 + "production-grade-secret-key-for-the-check-0123456789",
        "ALLOWED_HOSTS": "cursive.example.com",
        "SITE_URL": "https://cursive.example.com",
        "PATH": "/usr/bin:/bin",
        "STRIPE_SECRET_KEY": "sk_live_cursive",
        "STRIPE_WEBHOOK_SECRET": "whsec_production_signing_secret",
    }
    import os

    env["DATABASE_URL"] = os.environ.get("DATABASE_URL") or "postgres://nobody@127.0.0.1:1/none"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {"DJANGO_ENV": "production", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_polling_health_costs_at_most_one_query_per_call_after_the_first(client, settings, django_assert_max_num_queries):
    worker_heartbeat()
    settings.HEALTH_CACHE_SECONDS = 0  # every call probes: the per-call cost, without the answer cache
    assert client.get("/health").status_code == 200  # the first also checks migrations
    for _ in range(20):
        with django_assert_max_num_queries(1):
            assert client.get("/health").status_code == 200


def test_health_answers_from_its_cache_without_queries(client, django_assert_num_queries):
    worker_heartbeat()
    assert client.get("/health").status_code == 200
    for _ in range(20):
        with django_assert_num_queries(0):
            assert client.get("/health").status_code == 200


def test_a_database_outage_makes_health_503_quickly():
    """A server that is not there (nothing listens on the port): 503 with the database check failed."""
    import os

    from tests.servers import free_port

    probe = (
        "from django.test import Client\n"
        "import json\n"
        "response = Client().get('/health')\n"
        "print('HEALTH', response.status_code, json.dumps(response.json()))\n"
    )
    env = {**os.environ, "DATABASE_URL": f"postgres://nobody@127.0.0.1:{free_port()}/none"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("HEALTH"))
    _, status, body = line.split(" ", 2)
    assert status == "503"
    assert json.loads(body)["checks"]["database"]["ok"] is False


def test_a_probe_that_hangs_reports_an_outage_instead_of_the_last_answer(client, settings):
    import time

    from cursive.health import PROBE_TIMEOUT_SECONDS, _cache

    worker_heartbeat()
    assert client.get("/health").status_code == 200
    # Another thread is probing (it holds the lock) and has not come back for longer than a probe may take.
    with _cache.lock:
        _cache.answered_at = time.monotonic() - settings.HEALTH_CACHE_SECONDS - PROBE_TIMEOUT_SECONDS - 1
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "timeout"}


def test_while_one_thread_probes_the_others_answer_at_once_with_the_last_answer(client, settings, django_assert_num_queries):
    import time

    from cursive.health import _cache

    worker_heartbeat()
    assert client.get("/health").status_code == 200
    with _cache.lock:  # a probe in progress elsewhere
        _cache.answered_at = time.monotonic() - settings.HEALTH_CACHE_SECONDS - 1
        with django_assert_num_queries(0):
            assert client.get("/health").status_code == 200
