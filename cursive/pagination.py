"""Keyset pagination with opaque cursors (docs/api.md, Pagination: stable under inserts).

A cursor is the ordering values of the last row of a page; the next page is
the rows strictly after it in that ordering. Ordering always ends with a
unique column (the primary key) so no row is skipped or repeated.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import reduce
from operator import or_
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

from cursive.errors import ValidationFailed

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass
class KeysetPage:
    results: list
    next_cursor: str | None


def _value(obj, field: str):
    for part in field.split("__"):
        obj = getattr(obj, part)
    return obj


def _exact(value):
    # Full precision: DjangoJSONEncoder cuts datetimes to milliseconds, and rows created within the
    # same millisecond would then be skipped or repeated across pages.
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


_INVALID = "The cursor is not valid for this list; start again without it."


def _ordering_key(model, ordering: tuple[str, ...]) -> str:
    return f"{model._meta.label_lower}:{','.join(ordering)}"


def encode_cursor(values: list, *, key: str) -> str:
    raw = json.dumps({"k": key, "v": values}, default=_exact, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _field(model, path: str):
    *relations, name = path.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    return model._meta.get_field(name)


def decode_cursor(cursor: str, *, model, ordering: tuple[str, ...]) -> list:
    """The cursor's values, typed by the ordering's fields; 400 `invalid_cursor` for anything this list did
    not hand out (garbage, another list's or another sort's cursor, values of the wrong type)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(_INVALID, code="invalid_cursor") from exc
    if not isinstance(decoded, dict) or decoded.get("k") != _ordering_key(model, ordering):
        raise ValidationFailed(_INVALID, code="invalid_cursor")
    values = decoded.get("v")
    if not isinstance(values, list) or len(values) != len(ordering):
        raise ValidationFailed(_INVALID, code="invalid_cursor")
    typed = []
    for spec, value in zip(ordering, values, strict=True):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationFailed(_INVALID, code="invalid_cursor")
        try:
            typed.append(_field(model, spec.lstrip("-")).to_python(value))
        except (DjangoValidationError, TypeError, ValueError, ArithmeticError) as exc:
            raise ValidationFailed(_INVALID, code="invalid_cursor") from exc
        if typed[-1] is None:
            raise ValidationFailed(_INVALID, code="invalid_cursor")
    return typed


def keyset_after(ordering: tuple[str, ...], values: list) -> Q:
    """The rows that come after the row with these `values` in `ordering` (such as ("-score", "id")), in a form an
    index on those columns can start its scan at."""
    fields = [spec.lstrip("-") for spec in ordering]
    directions = {spec.startswith("-") for spec in ordering}
    if len(directions) == 1:
        # One direction: a row comparison, (score, id) < (40, 1234), which PostgreSQL starts and ends an index
        # scan at, so a next page reads its own rows only, however deep it is.
        row = Tuple(*(F(field) for field in fields))
        return Q((TupleLessThan if directions == {True} else TupleGreaterThan)(row, tuple(values)))
    clauses = []
    for i, spec in enumerate(ordering):
        op = "lt" if spec.startswith("-") else "gt"
        equal = dict(zip(fields[:i], values[:i], strict=True))
        clauses.append(Q(**equal, **{f"{fields[i]}__{op}": values[i]}))
    # Mixed directions: the same bound on the first column alone too, which an index scan can start at.
    first = ordering[0]
    start = Q(**{f"{fields[0]}__{'lte' if first.startswith('-') else 'gte'}": values[0]})
    return start & reduce(or_, clauses)


def parse_page_size(raw, default: int = DEFAULT_PAGE_SIZE) -> int:
    if raw in (None, ""):
        return default
    try:
        size = int(raw)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("`limit` must be a whole number.", fields={"limit": ["Not a number."]}) from exc
    if size < 1:
        raise ValidationFailed(f"`limit` is a page size from 1 to {MAX_PAGE_SIZE}.", fields={"limit": [f"1 to {MAX_PAGE_SIZE}."]})
    return min(size, MAX_PAGE_SIZE)


def keyset_paginate(
    queryset: QuerySet, *, ordering: tuple[str, ...], cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> KeysetPage:
    if cursor:
        queryset = queryset.filter(keyset_after(ordering, decode_cursor(cursor, model=queryset.model, ordering=ordering)))
    rows = list(queryset.order_by(*ordering)[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    next_cursor = None
    if has_more and rows:
        next_cursor = encode_cursor(
            [_value(rows[-1], spec.lstrip("-")) for spec in ordering], key=_ordering_key(queryset.model, ordering)
        )
    return KeysetPage(results=rows, next_cursor=next_cursor)
