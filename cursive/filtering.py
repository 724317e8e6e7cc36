"""Filters of a list page, where one bad value must not drop the others."""

from __future__ import annotations

from rest_framework import serializers


def _sentences(detail) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _sentences(value)]
    if isinstance(detail, list):
        return [message for item in detail for message in _sentences(item)]
    return [str(detail)]


def labelled(name: str, message: str, labels: dict[str, str]) -> str:
    """A problem as a sentence naming the filter as the page labels it ("Sort by: ..."), not by its key."""
    label = labels.get(name, name.replace("_", " ").capitalize())
    return message if message.startswith(label) else f"{label}: {message}"


def valid_filters(serializer_class: type[serializers.Serializer], data, *, labels: dict[str, str]):
    """The serializer validated over the filters that are valid, and the problems of the others by field.

    Each invalid filter is left out and reported; the other filters still apply, so a page never shows
    unfiltered results under the filters someone asked for. A problem no single filter explains gives no
    serializer: the page then shows nothing rather than guess."""
    data = data.copy()
    errors: dict[str, list[str]] = {}
    while True:
        serializer = serializer_class(data=data)
        if serializer.is_valid():
            return serializer, errors
        bad = {name: problems for name, problems in serializer.errors.items() if name in data}
        if not bad:
            errors.setdefault("non_field_errors", []).extend(_sentences(serializer.errors))
            return None, errors
        for name, problems in bad.items():
            errors[name] = [labelled(name, message, labels) for message in _sentences(problems)]
            data.pop(name)
