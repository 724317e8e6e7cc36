"""Invariant checks over the whole database, run by `manage.py check_consistency` and daily.

Each app registers the checks for what it owns; a check yields one sentence
per finding. Findings are printed, logged as errors and sent to Sentry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from cursive.registry import Registry

logger = logging.getLogger("cursive.consistency")

CHECKS: Registry[Callable[[], Iterable[str]]] = Registry("consistency checks")


def register_check(name: str, check: Callable[[], Iterable[str]]) -> None:
    CHECKS.register(name, check)


def run_checks() -> list[tuple[str, str]]:
    findings = []
    for name, check in CHECKS.items():
        for finding in check():
            findings.append((name, finding))
            logger.error("consistency finding", extra={"check": name, "finding": finding})
    if findings:
        try:
            import sentry_sdk

            sentry_sdk.capture_message(f"check_consistency: {len(findings)} finding(s)", level="error")
        except ImportError:  # pragma: no cover - sentry-sdk is a requirement
            pass
    return findings


def run_scheduled() -> int:
    return len(run_checks())
