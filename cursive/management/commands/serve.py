"""`make run`: migrate, seed the demo once, then serve with gunicorn and a django-q2 worker."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from cursive import embedded_db


class Command(BaseCommand):
    help = "Serve Cursive with gunicorn and a django-q2 cluster until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "3")))
        parser.add_argument("--no-seed", action="store_true", help="Do not seed demo data.")

    def handle(self, *args, host, port, workers, no_seed, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not no_seed:
            call_command("seed_demo", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        python = sys.executable
        children = [
            subprocess.Popen([
                python, "-m", "gunicorn", "cursive.wsgi:application", "--bind", f"{host}:{port}",
                "--workers", str(workers), "--access-logfile", "-", "--graceful-timeout", "10",
            ]),
            subprocess.Popen([python, "manage.py", "qcluster"], cwd=settings.BASE_DIR),
        ]
        self._print_banner(host, port)
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
            if not os.environ.get("DATABASE_URL") and embedded_db.stop():
                self.stdout.write("Embedded PostgreSQL stopped.")
        failed = [child for child in children if child.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            raise SystemExit(1)

    def _print_banner(self, host, port):
        password = settings.DEMO_PASSWORD
        self.stdout.write(self.style.SUCCESS(f"\nCursive is running at http://{host}:{port}\n"))
        self.stdout.write("Demo logins (password for all: " + password + "):")
        self.stdout.write("  buyer    buyer@cursive.demo")
        self.stdout.write("  partner  partner@cursive.demo")
        self.stdout.write(f"  staff    admin@cursive.demo   (admin at http://{host}:{port}/admin/)")
        self.stdout.write("Press Ctrl-C to stop.\n")
