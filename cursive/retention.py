"""How long each table that grows with traffic keeps its rows, and the one job that deletes the rest.

Each app registers the rules of its own tables in `ready()` (`register`), and an app that still needs rows of
another app's table says so with a hold (`hold`: rows go only when every hold's condition is true too), so no
app imports the apps above it. `retention_run`, scheduled hourly, applies every rule.

A rule deletes in batches through an index on its age field. Each batch is its own short transaction: it locks
the rows it picks with SKIP LOCKED (a row the product is using right now is left for the next run) and deletes
them through Django, so foreign keys cascade or are set to null as the models say. The next batch starts after
the last (age, pk) deleted rather than at the start of the index, so it does not walk the dead entries of the
batches before it (which autovacuum clears later). A run stops between batches after RETENTION_MAX_SECONDS,
well within the job's timeout, and the next run carries on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, models, transaction
from django.db.models import Q
from django.utils import timezone

from cursive.locks import try_lock_for_session, unlock_for_session
from cursive.registry import Registry

logger = logging.getLogger("cursive.retention")

_RUN_LOCK = "cursive.retention"


@dataclass(frozen=True)
class Rule:
    """Rows of `model` whose `age_field` is older than `keep()` go, when `condition()` (if any) holds too.
    `keep()` returns None to keep every row. `order`: rules run lowest first, so a table that others point at
    (the outbox) runs after the tables that point at it."""

    model: str
    age_field: str
    keep: Callable[[], dt.timedelta | None]
    condition: Callable[[], Q] | None = None
    order: int = 100


@dataclass(frozen=True)
class Custom:
    """A table pruned its own way (pixel events drop whole monthly partitions): `apply(now)` returns the number
    of rows, or partitions, removed."""

    apply: Callable[[dt.datetime], int]
    order: int = 100


RULES: Registry[Rule | Custom] = Registry("retention rules")
HOLDS: Registry[tuple[str, Callable[[], Q]]] = Registry("retention holds")


def register(name: str, rule: Rule | Custom) -> None:
    RULES.register(name, rule)


def hold(rule_name: str, holder: str, condition: Callable[[], Q]) -> None:
    """`holder` still needs some rows of `rule_name`'s table: only those matching `condition()` may go."""
    HOLDS.register(f"{rule_name}:{holder}", (rule_name, condition))


def days(setting: str) -> Callable[[], dt.timedelta | None]:
    """A keep period read from a setting at run time, in days; 0 keeps every row."""

    def keep() -> dt.timedelta | None:
        value = getattr(settings, setting)
        return dt.timedelta(days=value) if value > 0 else None

    return keep


def _cutoff(field: models.Field, moment: dt.datetime):
    # Rate-limit windows are stored as epoch seconds.
    if isinstance(field, models.IntegerField):
        return int(moment.timestamp())
    return moment


def _conditions(name: str, rule: Rule) -> Q:
    condition = rule.condition() if rule.condition else Q()
    for rule_name, held in HOLDS.values():
        if rule_name == name:
            condition &= held()
    return condition


def rule_apply(*, name: str, now: dt.datetime | None = None, batch_size: int | None = None, deadline: float | None = None) -> int:
    """Apply one rule; returns the rows (or partitions) removed. Stops between batches once `deadline`
    (time.monotonic()) has passed."""
    rule = RULES.get(name)
    now = now or timezone.now()
    if isinstance(rule, Custom):
        return rule.apply(now)
    keep = rule.keep()
    if keep is None:
        return 0
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    model = apps.get_model(rule.model)
    age = rule.age_field
    cutoff = _cutoff(model._meta.get_field(age), now - keep)
    expired = model._base_manager.filter(Q(**{f"{age}__lt": cutoff}), _conditions(name, rule))
    deleted = 0
    after = None
    while deadline is None or time.monotonic() < deadline:
        batch = expired
        if after is not None:
            last_age, last_pk = after
            # The first condition lets the index start at the last age; the second skips what was deleted.
            batch = batch.filter(
                Q(**{f"{age}__gte": last_age}), Q(**{f"{age}__gt": last_age}) | Q(**{age: last_age, "pk__gt": last_pk})
            )
        with transaction.atomic():
            picked = list(
                batch.order_by(age, "pk").select_for_update(skip_locked=True, of=("self",)).values_list(age, "pk")[:batch_size]
            )
            if picked:
                # Deleted through the ORM, so foreign keys cascade or go null as the models say.
                model._base_manager.filter(pk__in=[pk for _, pk in picked]).delete()
        deleted += len(picked)
        if len(picked) < batch_size:
            break
        after = picked[-1]
    return deleted


def retention_run() -> dict[str, int]:
    """Hourly: every rule, in order, within RETENTION_MAX_SECONDS. One run at a time across all workers and
    nodes; a second one finds the lock taken and returns at once."""
    if not try_lock_for_session(_RUN_LOCK):
        return {}
    try:
        deadline = time.monotonic() + settings.RETENTION_MAX_SECONDS
        now = timezone.now()
        removed = {}
        for name in sorted(RULES, key=lambda name: RULES.get(name).order):
            if time.monotonic() >= deadline:
                break
            try:
                removed[name] = rule_apply(name=name, now=now, deadline=deadline)
            except DatabaseError:
                # A lock that did not come in time (a partition drop): the other rules still run, this one next time.
                logger.exception("retention rule failed", extra={"rule": name})
                removed[name] = 0
    finally:
        unlock_for_session(_RUN_LOCK)
    if any(removed.values()):
        logger.info("retention", extra={"removed": {name: count for name, count in removed.items() if count}})
    return removed
