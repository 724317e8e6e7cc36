"""A real streaming replica of the embedded server (or any local server the settings name), for the replica tests
and bench/replicas.py: `pg_basebackup -R` from the wheel's binaries into a temporary directory, started on a free
port as a hot standby, stopped and deleted by `stop()`. The primary needs nothing changed: initdb's pg_hba.conf
already trusts replication connections from 127.0.0.1, and wal_level is `replica` by default."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from cursive import embedded_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as() -> str | None:
    # PostgreSQL refuses to run as root, as in cursive.embedded_db.
    return embedded_db.SYSTEM_USER if os.geteuid() == 0 else None


def _run(args: list, *, timeout: int = 120) -> None:
    result = subprocess.run([str(arg) for arg in args], user=_run_as(), capture_output=True, text=True, timeout=timeout, cwd="/")
    if result.returncode != 0:
        raise RuntimeError(f"{Path(str(args[0])).name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


class Standby:
    def __init__(self, *, primary_host: str, primary_port: int, user: str, dbname: str):
        self.primary = {"host": primary_host, "port": primary_port, "user": user}
        self.dbname = dbname
        self.base = Path(tempfile.mkdtemp(prefix="cursive-standby-"))
        self.data = self.base / "data"
        self.port = _free_port()
        if (run_as := _run_as()) is not None:
            entry = pwd.getpwnam(run_as)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        # -R writes standby.signal and primary_conninfo; -X stream copies the WAL written meanwhile.
        _run(
            [
                embedded_db.binary("pg_basebackup"),
                "-h", primary_host, "-p", primary_port, "-U", user,
                "-D", self.data, "-R", "-X", "stream", "-c", "fast", "--no-sync",
            ]
        )  # fmt: skip
        self.start()

    def start(self) -> None:
        # A hot standby needs max_connections at least the primary's (embedded_db.SERVER_OPTIONS sets 300).
        options = f"-h 127.0.0.1 -p {self.port} -k '' -c max_connections=300 -c shared_buffers=32MB -c fsync=off"
        _run(
            [
                embedded_db.binary("pg_ctl"),
                "-D",
                self.data,
                "-w",
                "-t",
                "60",
                "-l",
                self.data / "server.log",
                "-o",
                options,
                "start",
            ]
        )
        self.wait_streaming()

    def connect(self, dbname: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.primary["user"], dbname=dbname or self.dbname, autocommit=True
        )

    def wait_streaming(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.connect() as conn:
                    status = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
                    if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] and status and status[0] == "streaming":
                        return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby did not start streaming; see {self.data / 'server.log'}")
            time.sleep(0.05)

    def catch_up(self, timeout: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(**self.primary, dbname=self.dbname, autocommit=True) as primary, self.connect() as conn:
            target = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
            nudge_at = time.monotonic() + 0.5
            while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise RuntimeError("the standby did not catch up")
                if time.monotonic() > nudge_at:
                    # At a page's end the insert position counts the next page's header, which only the next
                    # record fills: one small record, and the standby replays past the target.
                    primary.execute("SELECT pg_logical_emit_message(false, 'cursive', '')")
                    nudge_at = time.monotonic() + 0.5
                time.sleep(0.01)

    def pause(self) -> None:
        """Stop replaying (WAL is still received): the standby's answers stay as they are now."""
        self.catch_up()
        with self.connect() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            while conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
                time.sleep(0.01)

    def resume(self) -> None:
        with self.connect() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def stop(self) -> None:
        if self.running():
            _run([embedded_db.binary("pg_ctl"), "-D", self.data, "-w", "-m", "fast", "stop"])

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
