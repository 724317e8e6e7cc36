from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from cursive.pagination import keyset_paginate, parse_page_size

CURSOR_PARAMETERS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from the previous page's `next`."),
    OpenApiParameter("limit", int, description="Page size, 1-200 (default 50)."),
]


def paginated_response(request, queryset, *, ordering, serializer_class) -> Response:
    page = keyset_paginate(
        queryset, ordering=ordering, cursor=request.query_params.get("cursor") or None,
        page_size=parse_page_size(request.query_params.get("limit")),
    )
    return Response({"results": serializer_class(page.results, many=True).data, "next": page.next_cursor})
