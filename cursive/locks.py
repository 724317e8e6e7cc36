"""Named PostgreSQL advisory locks, for work that must not run twice at once but has no row to lock.

One place turns a name into the lock's 64-bit key (`hashtextextended`), so two features can never pick
colliding keys by different schemes.
"""

from django.db import connection


def lock_for_transaction(name: str) -> None:
    """Wait for the lock; it is held until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])


def try_lock_for_session(name: str) -> bool:
    """Take the lock without waiting, for as long as this connection lives or until `unlock_for_session`: a
    process that dies takes its locks with it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [name])
        return cursor.fetchone()[0]


def unlock_for_session(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [name])


# Each lock is taken and given back at once (CASE evaluates in order), so no lock outlives the statement.
_ANY_FREE = """
SELECT EXISTS (
    SELECT 1 FROM unnest(%s::text[]) AS slot(name)
    WHERE CASE WHEN pg_try_advisory_lock(hashtextextended(name, 0))
               THEN pg_advisory_unlock(hashtextextended(name, 0)) ELSE false END
)
"""


def any_free_for_session(names: list[str]) -> bool:
    """Whether some process could take one of these session locks now, asked in one round trip: a commit that
    wakes a loop asks this, and the loop itself takes its slot with `try_lock_for_session`."""
    with connection.cursor() as cursor:
        cursor.execute(_ANY_FREE, [names])
        return cursor.fetchone()[0]
