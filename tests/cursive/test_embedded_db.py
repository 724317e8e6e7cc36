"""The embedded PostgreSQL: started once, shared by every process, stopped on request."""

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.servers import REPO

PROBE = (
    "from django.db import connection\n"
    "with connection.cursor() as c:\n"
    "    c.execute(\"SELECT pg_backend_pid(), pg_postmaster_start_time(), current_setting('data_directory'), "
    "inet_server_port()\")\n"
    "    pid, started, data, port = c.fetchone()\n"
    "print('PROBE', pid, started.isoformat(), data, port)\n"
)


def _embedded_env(data_dir):
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["EMBEDDED_PG_DIR"] = str(data_dir)
    return env


def _probe(env) -> list[str]:
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", PROBE], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROBE"))
    return line.split()[1:]


@pytest.fixture
def data_dir():
    """Beside the project's own server, not in pytest's temporary tree: pytest keeps that tree private
    (mode 0700, pruned by later sessions), and under root the server runs as an unprivileged user."""
    parent = REPO / ".data"
    parent.mkdir(exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="test-embedded-", dir=parent))
    yield directory / "pg"
    shutil.rmtree(directory, ignore_errors=True)


def test_two_processes_share_one_embedded_server(data_dir):
    env = _embedded_env(data_dir)
    try:
        # Both start at once: one initialises and starts the server, the other waits for it and reuses it.
        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(lambda _: _probe(env), range(2))
        backend_a, started_a, dir_a, port_a = first
        backend_b, started_b, dir_b, port_b = second
        assert backend_a != backend_b, "each process has its own connection"
        assert (started_a, dir_a, port_a) == (started_b, dir_b, port_b), "but one and the same server"
        assert dir_a == str(data_dir.resolve())
        # A third, later process reuses it without restarting it.
        assert _probe(env)[1] == started_a
    finally:
        stopped = subprocess.run([sys.executable, "-m", "cursive.embedded_db", "stop"], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=60)
    assert "stopped" in stopped.stdout
    status = subprocess.run([sys.executable, "-m", "cursive.embedded_db", "status"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert "not running" in status.stdout
