from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from cursive.api.idempotency import idempotent
from cursive.api.pagination import CURSOR_PARAMETERS, page_of, paginated_response
from cursive.api.views import WorkspaceAPIView
from cursive.errors import ValidationFailed

from . import selectors, services
from .filters import SegmentFiltersSerializer
from .models import Segment


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = (
            "id",
            "name",
            "description",
            "filters",
            "status",
            "last_count",
            "last_run",
            "auto_pull_per_day",
            "created_at",
            "updated_at",
        )


class SegmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True)
    filters = serializers.JSONField(required=False, default=dict)
    status = serializers.ChoiceField(choices=Segment.Status.choices, required=False)
    auto_pull_per_day = serializers.IntegerField(required=False, min_value=0, max_value=services.MAX_PULL)


class SegmentListCreateView(WorkspaceAPIView):
    @extend_schema(
        parameters=[*CURSOR_PARAMETERS, OpenApiParameter("status", str)],
        responses=page_of(SegmentSerializer),
        operation_id="v1_segments_list",
    )
    def get(self, request):
        status = request.query_params.get("status") or None
        if status is not None and status not in Segment.Status.values:
            raise ValidationFailed(
                f"`status` is one of {', '.join(Segment.Status.values)}.",
                fields={"status": [f"Not one of {', '.join(Segment.Status.values)}."]},
            )
        segments = selectors.workspace_segments(workspace=request.workspace, status=status)
        return paginated_response(request, segments, ordering=("-created_at", "-id"), serializer_class=SegmentSerializer)

    @extend_schema(
        request=SegmentInputSerializer,
        responses={201: SegmentSerializer},
        description=f"`filters` keys: {', '.join(SegmentFiltersSerializer().fields)}.",
    )
    def post(self, request):
        data = SegmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = services.segment_create(workspace=request.workspace, created_by=request.user, **data.validated_data)
        return Response(SegmentSerializer(segment).data, status=201)


class SegmentDetailView(WorkspaceAPIView):
    @extend_schema(responses=SegmentSerializer)
    def get(self, request, segment_id: int):
        return Response(SegmentSerializer(selectors.segment_get(workspace=request.workspace, segment_id=segment_id)).data)

    @extend_schema(request=SegmentInputSerializer(partial=True), responses=SegmentSerializer)
    def patch(self, request, segment_id: int):
        selectors.segment_get(workspace=request.workspace, segment_id=segment_id)
        data = SegmentInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        segment = services.segment_update(workspace=request.workspace, segment_id=segment_id, **data.validated_data)
        return Response(SegmentSerializer(segment).data)

    @extend_schema(responses={204: None})
    def delete(self, request, segment_id: int):
        services.segment_delete(workspace=request.workspace, segment_id=segment_id)
        return Response(status=204)


class SegmentRunView(WorkspaceAPIView):
    class RunInputSerializer(serializers.Serializer):
        mode = serializers.ChoiceField(choices=["preview", "pull"])
        limit = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_PULL)

        def validate(self, attrs):
            if attrs["mode"] == "pull" and "limit" not in attrs:
                raise serializers.ValidationError({"limit": ["Say how many people to pull."]})
            return attrs

    @extend_schema(
        request=RunInputSerializer,
        responses=inline_serializer(
            "SegmentRunResult",
            {
                "count": serializers.IntegerField(required=False),
                "pulled": serializers.IntegerField(required=False),
                "skipped_owned": serializers.IntegerField(required=False),
                "credits_charged": serializers.DecimalField(max_digits=14, decimal_places=2, required=False),
            },
        ),
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @idempotent(atomic=True)
    def post(self, request, segment_id: int):
        # Another workspace's id is a 404 whatever the body says.
        selectors.segment_get(workspace=request.workspace, segment_id=segment_id)
        data = self.RunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["mode"] == "preview":
            run = services.segment_preview(workspace=request.workspace, segment_id=segment_id, actor=request.user)
            return Response({"count": run.count})
        run = services.segment_pull(
            workspace=request.workspace, segment_id=segment_id, limit=data.validated_data["limit"], actor=request.user
        )
        return Response(
            {"pulled": run.pulled, "skipped_owned": run.skipped_owned, "credits_charged": f"{run.credits_charged:.2f}"}
        )
