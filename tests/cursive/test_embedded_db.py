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
    'inet_server_port()")\n'
    "    pid, started, data, port = c.fetchone()\n"
    "print('PROBE', pid, started.isoformat(), data, port)\n"
)


def _embedded_env(data_dir):
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["EMBEDDED_PG_DIR"] = str(data_dir)
    return env


def _probe(env) -> list[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
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
        stopped = subprocess.run(
            [sys.executable, "-m", "cursive.embedded_db", "stop"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
        )
    assert "stopped" in stopped.stdout
    status = subprocess.run(
        [sys.executable, "-m", "cursive.embedded_db", "status"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert "not running" in status.stdout


def _module(env, command: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cursive.embedded_db", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


RESTART = (
    "import subprocess, sys\n"
    "from django.db import connection\n"
    "from django.db.utils import InterfaceError, OperationalError\n"
    "def port():\n"
    "    with connection.cursor() as c:\n"
    "        c.execute('SELECT inet_server_port()')\n"
    "        return c.fetchone()[0]\n"
    "before = port()\n"
    "for command in ('stop', 'start'):\n"
    "    subprocess.run([sys.executable, '-m', 'cursive.embedded_db', command], check=True)\n"
    "failures = 0\n"
    "for attempt in range(3):\n"
    "    connection.close_if_unusable_or_obsolete()  # what Django does as each request starts\n"
    "    try:\n"
    "        after = port()\n"
    "        break\n"
    "    except (InterfaceError, OperationalError):\n"
    "        failures += 1\n"
    "print('PROBE', before, after, failures)\n"
)


@pytest.mark.slow
def test_a_restarted_server_keeps_its_port_and_connections_recover(data_dir):
    env = _embedded_env(data_dir)
    try:
        port = _module(env, "start").strip().rsplit(":", 1)[1].split("/")[0]
        _module(env, "stop")
        assert _module(env, "start").strip().rsplit(":", 1)[1].split("/")[0] == port
        # A process connected before a restart reaches the server again, at most one failed attempt later.
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", RESTART], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stderr
        before, after, failures = next(line for line in result.stdout.splitlines() if line.startswith("PROBE")).split()[1:]
        assert before == after == port
        assert int(failures) <= 1
    finally:
        _module(env, "stop")


HOLD = (
    "import sys\n"
    "from django.db import connection\n"
    "connection.ensure_connection()\n"
    "print('READY', flush=True)\n"
    "sys.stdin.readline()\n"
    "with connection.cursor() as c:\n"
    "    c.execute('SELECT 1')\n"
    "    print('STILL', 'OK' if c.fetchone() == (1,) else 'BAD', flush=True)\n"
)
STOP_IF_UNUSED = "from cursive import embedded_db\nembedded_db.ensure_running()\nprint('STOPPED', embedded_db.stop_if_unused())\n"


@pytest.mark.slow
def test_stopping_on_exit_leaves_a_server_that_another_process_uses(data_dir):
    """The exit of one `make run` (stop_if_unused) while another process of the checkout uses the server."""
    env = _embedded_env(data_dir)
    user = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", HOLD],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert user.stdout.readline().strip() == "READY"

        def leave() -> str:
            result = subprocess.run(
                [sys.executable, "-c", STOP_IF_UNUSED], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 0, result.stderr
            return result.stdout.split()[-1]

        assert leave() == "False"
        assert "running" in _module(env, "status").split()[0]
        user.stdin.write("\n")
        user.stdin.flush()
        assert user.stdout.readline().split() == ["STILL", "OK"]
        assert user.wait(timeout=60) == 0
        # Once nobody uses it, leaving stops it.
        assert leave() == "True"
        assert "not running" in _module(env, "status")
    finally:
        if user.poll() is None:
            user.kill()
        _module(env, "stop")
