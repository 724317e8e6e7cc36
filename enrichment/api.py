import json

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from cursive.api.idempotency import idempotent
from cursive.api.pagination import CURSOR_PARAMETERS, page_of, paginated_response
from cursive.api.parsers import refuse_oversized
from cursive.api.views import CsvAPIView, WorkspaceAPIView
from cursive.errors import ValidationFailed
from leads.export import csv_download

from . import selectors, services
from .models import Enrichment


class EnrichmentSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField(read_only=True)
    errors = serializers.SerializerMethodField()
    expired = serializers.BooleanField(source="is_expired", read_only=True)

    class Meta:
        model = Enrichment
        fields = (
            "id",
            "status",
            "original_name",
            "mapping",
            "total_rows",
            "matched_rows",
            "already_owned_rows",
            "duplicate_rows",
            "nothing_to_fill_rows",
            "unusable_rows",
            "matched_by",
            "fills",
            "billable_rows",
            "price_per_row",
            "credits_quote",
            "credits_charged",
            "max_credits",
            "enriched_rows",
            "progress",
            "errors",
            "created_at",
            "confirmed_at",
            "finished_at",
            "expires_at",
            "expired",
        )

    def get_errors(self, enrichment) -> list[dict]:
        """Why the file as a whole could not be matched (row 0: the file itself), as partner uploads say it."""
        if not enrichment.failure_message:
            return []
        return [{"row": 0, "field": "file", "message": enrichment.failure_message}]


class EnrichmentListCreateView(WorkspaceAPIView):
    parser_classes = [MultiPartParser]

    class CreateInputSerializer(serializers.Serializer):
        file = serializers.FileField()
        mapping = serializers.CharField(required=False, allow_blank=True, help_text='JSON: {"CSV header": "lead field"}.')

    @extend_schema(parameters=CURSOR_PARAMETERS, responses=page_of(EnrichmentSerializer), operation_id="v1_enrichments_list")
    def get(self, request):
        enrichments = selectors.enrichments_list(workspace=request.workspace)
        return paginated_response(request, enrichments, ordering=("-created_at", "-id"), serializer_class=EnrichmentSerializer)

    @extend_schema(
        request={"multipart/form-data": CreateInputSerializer},
        responses={
            202: inline_serializer("EnrichmentAccepted", {"id": serializers.IntegerField(), "status": serializers.CharField()})
        },
        description="Matching runs in the background and is free; the enrichment then awaits confirmation with its quote.",
    )
    def post(self, request):
        refuse_oversized(request)
        data = self.CreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mapping = data.validated_data.get("mapping") or None
        if mapping:
            try:
                mapping = json.loads(mapping)
            except ValueError as exc:
                raise ValidationFailed(
                    '`mapping` must be JSON: {"CSV header": "lead field"}.', fields={"mapping": ["Not JSON."]}
                ) from exc
        enrichment = services.enrichment_create(
            workspace=request.workspace, file=data.validated_data["file"], mapping=mapping, created_by=request.user
        )
        return Response({"id": enrichment.pk, "status": enrichment.status}, status=202)


class EnrichmentDetailView(WorkspaceAPIView):
    @extend_schema(responses=EnrichmentSerializer)
    def get(self, request, enrichment_id: int):
        enrichment = selectors.enrichment_get(workspace=request.workspace, enrichment_id=enrichment_id)
        return Response(EnrichmentSerializer(enrichment).data)


class EnrichmentConfirmView(WorkspaceAPIView):
    rate_class = "purchases"

    class ConfirmInputSerializer(serializers.Serializer):
        max_credits = serializers.DecimalField(
            max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True, help_text="Optional cap, in credits."
        )

    @extend_schema(
        request=ConfirmInputSerializer,
        responses={202: EnrichmentSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
        description="Charges `credits_quote` (or the best matches that fit `max_credits`) once; 402 "
        "`insufficient_credits` with nothing charged.",
    )
    @idempotent(atomic=True)
    def post(self, request, enrichment_id: int):
        # Another workspace's id is a 404 whatever the body says.
        selectors.enrichment_get(workspace=request.workspace, enrichment_id=enrichment_id)
        data = self.ConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enrichment = services.enrichment_confirm(
            workspace=request.workspace,
            enrichment_id=enrichment_id,
            max_credits=data.validated_data.get("max_credits"),
            actor=request.user,
        )
        return Response(EnrichmentSerializer(enrichment).data, status=202)


class EnrichmentCancelView(WorkspaceAPIView):
    @extend_schema(request=None, responses=EnrichmentSerializer, description="Before confirmation only; nothing is charged.")
    def post(self, request, enrichment_id: int):
        enrichment = services.enrichment_cancel(workspace=request.workspace, enrichment_id=enrichment_id, actor=request.user)
        return Response(EnrichmentSerializer(enrichment).data)


class EnrichmentDownloadView(CsvAPIView):
    export_gate = True

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request, enrichment_id: int):
        enrichment = selectors.enrichment_get(workspace=request.workspace, enrichment_id=enrichment_id)
        chunks = selectors.enrichment_result_chunks(enrichment=enrichment)
        return csv_download(chunks, f"cursive-enrichment-{enrichment.pk}.csv")
