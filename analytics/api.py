from datetime import date
from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from cursive.api.views import WorkspaceAPIView
from cursive.replicas import reads_from_replica

from . import selectors


class SummaryView(WorkspaceAPIView):
    class PeriodSerializer(serializers.Serializer):
        period = serializers.ChoiceField(choices=[str(days) for days in selectors.PERIODS], required=False, default="30")

    @extend_schema(parameters=[OpenApiParameter("period", int, enum=list(selectors.PERIODS))], responses={200: dict})
    @reads_from_replica
    def get(self, request):
        params = self.PeriodSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        summary = selectors.workspace_summary(workspace=request.workspace, days=int(params.validated_data["period"]))
        return Response(_jsonable(summary))


def _jsonable(value):
    """Money as 2-place strings and days as ISO dates, as docs/api.md (Conventions) says."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return value
