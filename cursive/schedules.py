"""Recurring django-q2 jobs, declared by each app and kept in the database after every migrate."""

from __future__ import annotations

from dataclasses import dataclass

from cursive.registry import Registry


@dataclass(frozen=True)
class Recurring:
    name: str
    func: str
    schedule_type: str  # django_q.models.Schedule.MINUTES, HOURLY, DAILY ...
    minutes: int | None = None


SCHEDULES: Registry[Recurring] = Registry("schedules")


def register(recurring: Recurring) -> None:
    SCHEDULES.register(recurring.name, recurring)


def ensure_schedules(**_signal_kwargs) -> None:
    from django_q.models import Schedule

    for recurring in SCHEDULES.values():
        Schedule.objects.update_or_create(
            name=recurring.name,
            defaults={
                "func": recurring.func,
                "schedule_type": recurring.schedule_type,
                "minutes": recurring.minutes,
                "repeats": -1,
            },
        )
