from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from cursive.pagination import keyset_paginate, parse_page_size

CURSOR_PARAMETERS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from the previous page's `next`."),
    OpenApiParameter("limit", int, description="Page size, 1-200 (default 50)."),
]


def paginated_response(request, queryset, *, ordering, serializer_class) -> Response:
    page = keyset_paginate(
        queryset,
        ordering=ordering,
        cursor=request.query_params.get("cursor") or None,
        page_size=parse_page_size(request.query_params.get("limit")),
    )
    return Response({"results": serializer_class(page.results, many=True).data, "next": page.next_cursor})


def page_of(serializer_class):
    """The schema of a list response (docs/api.md, Pagination): {"results": [...], "next": cursor or null}."""
    return inline_serializer(
        f"{serializer_class.__name__.removesuffix('Serializer')}Page",
        {
            "results": serializer_class(many=True),
            "next": serializers.CharField(allow_null=True, help_text="Pass as ?cursor= for the next page."),
        },
    )
