"""The delivery loop (webhooks.tasks.deliver) as the cluster's workers run it."""

from __future__ import annotations

import pytest

from cursive.events import emit
from webhooks import services, tasks

from .test_delivery import make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def looks(monkeypatch) -> list[int]:
    """One entry per time the loop looked at the outbox."""
    seen: list[int] = []
    dispatch = services.outbox_dispatch

    def counted(**kwargs):
        seen.append(1)
        return dispatch(**kwargs)

    monkeypatch.setattr(services, "outbox_dispatch", counted)
    return seen


def test_a_loop_that_finds_nothing_to_do_ends_at_once(looks, monkeypatch):
    # A task is queued per commit until a loop holds its slot: those that find the work taken must not idle.
    monkeypatch.setattr(tasks, "IDLE_SECONDS", 30)
    assert tasks.deliver(seconds=1) == 0
    assert len(looks) == 1


def test_a_loop_that_delivered_keeps_looking_for_more_before_it_ends(tenant, receiver, looks, monkeypatch):
    make_endpoint(tenant, receiver)
    emit(workspace=tenant.workspace, type="lead.created", data={"lead_id": 1})
    monkeypatch.setattr(tasks, "IDLE_SECONDS", 0.2)
    assert tasks.deliver(seconds=5) == 1
    assert len(looks) > 2
