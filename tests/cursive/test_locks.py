"""Named advisory locks: asking whether a loop's slot is free takes nothing and leaves nothing held."""

import pytest
from django.db import connection

from cursive.locks import any_free_for_session, try_lock_for_session, unlock_for_session
from tests.locking import held_elsewhere

pytestmark = pytest.mark.django_db(transaction=True)


def advisory_locks_held_here() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        return cursor.fetchone()[0]


def take_slot_0() -> None:
    assert try_lock_for_session("test.loop:0")


def test_a_slot_is_free_until_another_process_holds_it_and_asking_holds_nothing():
    assert any_free_for_session(["test.loop:0"])
    with held_elsewhere(take_slot_0, lambda: unlock_for_session("test.loop:0")):
        assert not any_free_for_session(["test.loop:0"])
        assert any_free_for_session(["test.loop:0", "test.loop:1"])
        assert advisory_locks_held_here() == 0
    assert any_free_for_session(["test.loop:0"])
    assert advisory_locks_held_here() == 0
