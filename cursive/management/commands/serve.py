"""`make run`: migrate, seed the demo once, then serve with gunicorn and a django-q2 worker, keeping both alive.

The web server and the job worker each run in a process group of their own. When one dies it is logged and
started again (after a growing pause while it keeps dying at once), its group killed first so a crashed
cluster's worker processes never run beside the new ones; the other keeps serving meanwhile. The embedded
PostgreSQL is started again when it stops. On exit both groups are ended; should `serve` itself be killed,
its children get SIGTERM from the kernel (PR_SET_PDEATHSIG).
"""

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from cursive import embedded_db

logger = logging.getLogger("cursive.serve")

PR_SET_PDEATHSIG = 1
# A child that ran this long before dying is restarted at once; one dying sooner waits 1, 2, 4 ... 30 s.
STABLE_SECONDS = 30
MAX_BACKOFF_SECONDS = 30
STOP_TIMEOUT_SECONDS = 20


def gunicorn_command(*, host: str, port: int, workers: int, threads: int) -> list[str]:
    """The web server as `serve` runs it (bench/exports.py runs the same). Threaded workers: a long response
    such as a CSV export holds one thread, not a whole worker, so /health and pages stay answered meanwhile."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "cursive.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "10",
    ]


def _die_with_parent(parent_pid: int):
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec():
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        # The parent may have died before prctl took effect.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


class Child:
    """One supervised process (and its process group)."""

    def __init__(self, name: str, command: list[str]):
        self.name = name
        self.command = command
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.quick_deaths = 0
        self.start_after = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, cwd=settings.BASE_DIR, start_new_session=True, preexec_fn=_die_with_parent(os.getpid())
        )
        self.started_at = time.monotonic()
        logger.info("started %s", self.name, extra={"pid": self.process.pid})

    def kill_group(self, signum: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def supervise(self, now: float) -> None:
        """Restart the process if it died, pausing longer while it keeps dying right after starting."""
        if self.process.poll() is None:
            return
        if not self.start_after:
            # Whatever the dead leader left behind (a cluster's workers, a web server's workers) goes too.
            self.kill_group()
            lived = now - self.started_at
            self.quick_deaths = self.quick_deaths + 1 if lived < STABLE_SECONDS else 0
            pause = min(MAX_BACKOFF_SECONDS, 2 ** (self.quick_deaths - 1)) if self.quick_deaths else 0
            self.start_after = now + pause
            logger.error(
                "%s exited with %s after %.0f s; restarting in %s s",
                self.name,
                self.process.returncode,
                lived,
                pause,
                extra={"pid": self.process.pid, "returncode": self.process.returncode},
            )
        if now >= self.start_after:
            self.start_after = 0.0
            self.start()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_and_reap(self, deadline: float) -> None:
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in time; killing it", self.name)
        self.kill_group()
        self.process.wait()


class Command(BaseCommand):
    help = "Serve Cursive with gunicorn and a django-q2 cluster until interrupted, restarting either if it dies."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "3")))
        parser.add_argument(
            "--threads", type=int, default=int(os.environ.get("WEB_THREADS", "16")), help="Threads per web worker."
        )
        parser.add_argument("--no-seed", action="store_true", help="Do not seed demo data.")

    def handle(self, *args, host, port, workers, threads, no_seed, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not no_seed:
            call_command("seed_demo", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        embedded = not os.environ.get("DATABASE_URL")
        children = [
            Child("web server", gunicorn_command(host=host, port=port, workers=workers, threads=threads)),
            Child("job worker", [sys.executable, "manage.py", "qcluster"]),
        ]
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for child in children:
                child.start()
            self._print_banner(host, port)
            while not stopping:
                now = time.monotonic()
                if embedded:
                    self._keep_database_up()
                for child in children:
                    child.supervise(now)
                time.sleep(0.5)
        finally:
            for child in children:
                if child.process is not None:
                    child.stop()
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            for child in children:
                if child.process is not None:
                    child.wait_and_reap(deadline)
            if embedded and embedded_db.stop_if_unused():
                self.stdout.write("Embedded PostgreSQL stopped.")

    def _keep_database_up(self) -> None:
        if embedded_db.running_server() is not None:
            return
        logger.error("the embedded PostgreSQL is not running; starting it again on its port")
        try:
            embedded_db.ensure_running()
        except embedded_db.EmbeddedDatabaseError:
            logger.exception("the embedded PostgreSQL did not start; trying again")

    def _print_banner(self, host, port):
        password = settings.DEMO_PASSWORD
        self.stdout.write(self.style.SUCCESS(f"\nCursive is running at http://{host}:{port}\n"))
        self.stdout.write("Demo logins (password for all: " + password + "):")
        self.stdout.write("  buyer    buyer@cursive.demo")
        self.stdout.write("  partner  partner@cursive.demo")
        self.stdout.write(f"  staff    admin@cursive.demo   (admin at http://{host}:{port}/admin/)")
        self.stdout.write("Press Ctrl-C to stop.\n")
