"""The one registry type, for what is truly pluggable: apps add entries in ready(), a lower app reads them.

Schedules, consistency checks and ledger references use it. A registry refuses a key twice (two apps
claiming one name is a bug to see at start-up, not a silent overwrite) and fails loudly on a key nobody
registered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

V = TypeVar("V")


class AlreadyRegistered(ValueError):
    pass


class NotRegistered(LookupError):
    pass


class Registry(Generic[V]):
    def __init__(self, name: str):
        self.name = name
        self._entries: dict[str, V] = {}

    def register(self, key: str, value: V) -> V:
        if key in self._entries:
            raise AlreadyRegistered(f"{self.name}: '{key}' is already registered ({self._entries[key]!r}).")
        self._entries[key] = value
        return value

    def get(self, key: str) -> V:
        try:
            return self._entries[key]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise NotRegistered(f"{self.name}: nothing is registered as '{key}' (known: {known}).") from None

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        return self._entries.items()

    def values(self):
        return self._entries.values()

    def __repr__(self) -> str:
        return f"<Registry {self.name}: {len(self._entries)} entries>"
