"""`manage.py serve` (what `make run` runs) as real processes, on an embedded PostgreSQL of its own."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers import REPO, child_pids, free_port

pytestmark = pytest.mark.slow


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in child_pids(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _started_with(data_dir: str) -> list[int]:
    marker = f"EMBEDDED_PG_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_for(condition, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


RUN_A_JOB = (
    "import time\n"
    "from django_q.models import Success\n"
    "from django_q.tasks import async_task\n"
    "task_id = async_task('cursive.tasks.worker_heartbeat')\n"
    "deadline = time.monotonic() + 120\n"
    "while time.monotonic() < deadline and not Success.objects.filter(id=task_id).exists():\n"
    "    time.sleep(0.5)\n"
    "print('JOB DONE' if Success.objects.filter(id=task_id).exists() else 'JOB NOT RUN')\n"
)


def _qcluster(serve_pid: int) -> int | None:
    return next((pid for pid in child_pids(serve_pid) if "qcluster" in _cmdline(pid) and _alive(pid)), None)


@pytest.fixture
def served(tmp_path):
    """`manage.py serve --no-seed` on a free port with its own embedded PostgreSQL, DEBUG unset."""
    parent = REPO / ".data"
    parent.mkdir(exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="test-serve-", dir=parent))
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DEBUG", "DJANGO_ENV")}
    env.update({"EMBEDDED_PG_DIR": str(directory / "pg"), "Q_WORKERS": "1", "HEALTH_CACHE_SECONDS": "0.2"})
    port = free_port()
    log = open(tmp_path / "serve.log", "w+")  # noqa: SIM115 - closed below
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-seed", "--port", str(port), "--workers", "1", "--threads", "4"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return _get(base + "/health")[0]
        except OSError:
            if serve.poll() is not None:
                log.seek(0)
                raise AssertionError(f"serve exited:\n{log.read()}") from None
            return None

    try:
        _wait_for(answers, seconds=180, what="serve to answer /health")
        beat = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", "from cursive.tasks import worker_heartbeat; worker_heartbeat()"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert beat.returncode == 0, beat.stderr
        yield serve, base, env
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        subprocess.run([sys.executable, "-m", "cursive.embedded_db", "stop"], cwd=REPO, env=env, capture_output=True, timeout=120)
        # Should serve have failed to, nothing it started outlives the test.
        for pid in _started_with(env["EMBEDDED_PG_DIR"]):
            os.kill(pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_serve_survives_its_job_worker_and_database_dying_and_leaves_nothing_behind(served):
    serve, base, env = served
    assert _wait_for(lambda: _get(base + "/health")[0] == 200, seconds=30, what="/health 200")

    # DEBUG is off by default: the product's 404 page, and static files still served.
    status, body = _get(base + "/no-such-page/")
    assert status == 404
    assert b"We couldn't find that" in body and b"URLconf" not in body
    assert _get(base + "/static/css/app.css")[0] == 200

    # A SIGKILLed job worker is replaced, its orphaned worker processes go, and the web answers throughout.
    old = _wait_for(lambda: _qcluster(serve.pid), seconds=30, what="the qcluster process")
    old_cluster = _wait_for(lambda: _descendants(old) or None, seconds=30, what="the cluster's processes")
    os.kill(old, signal.SIGKILL)
    health = []

    def replaced():
        health.append(_get(base + "/health")[0])
        new = _qcluster(serve.pid)
        return new if new and new != old else None

    new = _wait_for(replaced, seconds=60, what="a new qcluster")
    assert set(health) == {200}, health
    _wait_for(lambda: not any(_alive(pid) for pid in old_cluster), seconds=30, what="the old cluster's processes to end")
    assert serve.poll() is None

    # The embedded PostgreSQL stopped under it is started again on its port, and the web reconnects.
    stopped = subprocess.run(
        [sys.executable, "-m", "cursive.embedded_db", "stop"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert "stopped" in stopped.stdout
    _wait_for(lambda: _get(base + "/health")[0] == 200, seconds=60, what="/health 200 after the database restart")
    # The job worker, connected before the restart, runs jobs again.
    job = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", RUN_A_JOB],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert "JOB DONE" in job.stdout, job.stdout + job.stderr

    # SIGTERM: serve ends everything it started, and the embedded server nobody uses any more.
    everything = _descendants(serve.pid) | {new}
    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=90) == 0
    left = [(pid, _cmdline(pid)) for pid in everything if _alive(pid)]
    assert left == []
    status = subprocess.run(
        [sys.executable, "-m", "cursive.embedded_db", "status"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert "not running" in status.stdout
