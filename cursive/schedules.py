"""Recurring django-q2 jobs, declared by each app and kept in the database after every migrate."""

from __future__ import annotations

from dataclasses import dataclass

_REGISTRY: dict[str, Recurring] = {}


@dataclass(frozen=True)
class Recurring:
    name: str
    func: str
    schedule_type: str  # django_q.models.Schedule.MINUTES, HOURLY, DAILY ...
    minutes: int | None = None


def register(recurring: Recurring) -> None:
    _REGISTRY[recurring.name] = recurring


def ensure_schedules(**_signal_kwargs) -> None:
    from django_q.models import Schedule

    for recurring in _REGISTRY.values():
        Schedule.objects.update_or_create(
            name=recurring.name,
            defaults={"func": recurring.func, "schedule_type": recurring.schedule_type,
                      "minutes": recurring.minutes, "repeats": -1},
        )
