"""Look at the row locks a service holds, from another connection, while it is stopped mid-transaction."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection, connections, transaction
from psycopg import errors


class Paused:
    """Runs `work` in a thread on its own connection and stops it right after its first statement matching
    `pattern` has run: the locks it took so far are held until the block ends. The result (or the error)
    of `work` is in `result` (`error`) afterwards."""

    def __init__(self, work, pattern: str):
        self.work, self.pattern = work, re.compile(pattern, re.IGNORECASE | re.DOTALL)
        self.reached, self.release = threading.Event(), threading.Event()
        self.matched = False
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _pause(self, execute, sql, params, many, context):
        outcome = execute(sql, params, many, context)
        if not self.reached.is_set() and self.pattern.search(sql):
            self.matched = True
            self.reached.set()
            self.release.wait(30)
        return outcome

    def _run(self):
        try:
            with connection.execute_wrapper(self._pause):
                self.result = self.work()
        except Exception as exc:  # shown by the test, whatever it is
            self.error = exc
        finally:
            self.reached.set()
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.reached.wait(30), "the work never ran its statement"
        assert self.matched, f"the work ended without running /{self.pattern.pattern}/: {self.error!r}"
        return self

    def __exit__(self, *exc_info):
        self.release.set()
        self.thread.join(30)
        if self.error is not None and exc_info[0] is None:
            raise self.error


def key_share_waits(table: str, pk: int) -> bool:
    """Whether `FOR KEY SHARE` on that row (what inserting a row that references it takes, at commit for
    Django's deferred foreign keys) would have to wait for another transaction."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE", [pk])  # noqa: S608
    except OperationalError as exc:
        if isinstance(exc.__cause__, errors.LockNotAvailable):
            return True
        raise
    return False


@contextmanager
def held_elsewhere(take: Callable[[], object], give_back: Callable[[], object] | None = None) -> Iterator[None]:
    """Another connection (a thread of its own) runs `take` in a transaction and keeps what it took (row locks, a
    session lock, a read in progress) for the whole block; then it runs `give_back`, if any, and ends. A failure
    in `take` is raised here."""
    held, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                take()
                held.set()
                release.wait(30)
                if give_back is not None:
                    give_back()
        except BaseException as exc:  # raised again in the test's own thread
            failures.append(exc)
            held.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30), "the other connection never took its hold"
        if failures:
            raise failures[0]
        yield
    finally:
        release.set()
        thread.join(30)
