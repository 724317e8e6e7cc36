"""Run real server processes (gunicorn, manage.py) against the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

from django.db import connection

REPO = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid`, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name, in parentheses, may hold spaces: the fields after the last ')' are space-separated.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def child_env(**overrides) -> dict:
    env = {**os.environ, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "cursive.settings"}
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def _wait_for_every_worker(base: str, *, workers: int, access_log: Path, deadline: float) -> None:
    """On a busy machine the first worker answers long before the others have booted; a test about several
    workers needs them all serving, so send concurrent health checks until each worker has answered one."""

    def probe(_):
        with suppress(OSError):  # a 503 is an answer too, and it is logged
            urllib.request.urlopen(base + "/health", timeout=5)  # noqa: S310 - loopback only

    with ThreadPoolExecutor(max_workers=workers * 4) as pool:
        while time.monotonic() < deadline:
            list(pool.map(probe, range(workers * 4)))
            serving = {line.split()[0] for line in access_log.read_text().splitlines() if "/health" in line}
            if len(serving) >= workers:
                return
    raise RuntimeError(
        f"only {len(serving)} of {workers} gunicorn workers answered /health within the deadline; "
        f"access log: {access_log.read_text()[-2000:]!r}"
    )


@contextmanager
def gunicorn(*, workers: int, env: dict, access_log: Path, cwd: Path = REPO):
    port = free_port()
    # The server's own output goes to a file beside the access log: a pipe nobody reads fills up, and a worker
    # that blocks writing a log line to it stops answering.
    output_path = access_log.with_name(access_log.stem + ".server.log")
    output = output_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "cursive.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(p)s %(s)s %(U)s",
        ],
        cwd=cwd,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def server_output() -> str:
        return output_path.read_text(errors="replace")[-4000:]

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=2)  # noqa: S310 - loopback only
                break
            except urllib.error.HTTPError:
                break  # 503 still means the server answers
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{server_output()}") from None
                time.sleep(0.2)
        # Generous: on a 2-core machine running the rest of the suite, a worker's first /health (which loads the
        # migration graph) can take many seconds.
        try:
            _wait_for_every_worker(base, workers=workers, access_log=access_log, deadline=time.monotonic() + 120)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\ngunicorn's output:\n{server_output()}") from None
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        output.close()


def throwaway_certificates(folder: Path, names: tuple[str, ...]) -> Path:
    """A throw-away CA (`ca.pem`) and, for each name, a certificate it signed (`<name>.crt`, `<name>.key`, and both
    in `<name>.pem`), made by the openssl CLI in `folder`."""

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Cursive test CA")
    for name in names:
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (folder / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\n")
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
        )  # fmt: skip
        (folder / f"{name}.pem").write_text((folder / f"{name}.crt").read_text() + (folder / f"{name}.key").read_text())
    return folder
