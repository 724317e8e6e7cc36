"""The suppression list and reported bounces over the API (/api/v1/suppressions, /api/v1/bounces)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from cursive.api.idempotency import idempotent
from cursive.api.pagination import CURSOR_PARAMETERS, page_of, paginated_response
from cursive.api.views import WorkspaceAPIView
from cursive.errors import NotFound
from leads.models import Suppression
from leads.selectors import suppressions_list
from leads.services import suppression_remove, suppressions_add

from .refunds import MAX_REPORTED, Reason, bounces_report

MAX_ADDED = 1000


class SuppressionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suppression
        fields = ("id", "email", "reason", "detail", "created_at")


class SuppressionListView(WorkspaceAPIView):
    class AddInputSerializer(serializers.Serializer):
        emails = serializers.ListField(child=serializers.CharField(allow_blank=True), min_length=1, max_length=MAX_ADDED)
        detail = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(
        parameters=[*CURSOR_PARAMETERS, OpenApiParameter("q", str, description="Part of an address.")],
        responses=page_of(SuppressionOutputSerializer),
        operation_id="v1_suppressions_list",
    )
    def get(self, request):
        rows = suppressions_list(workspace=request.workspace, query=request.query_params.get("q", ""))
        return paginated_response(request, rows, ordering=("-created_at", "-id"), serializer_class=SuppressionOutputSerializer)

    @extend_schema(
        request=AddInputSerializer,
        responses={201: inline_serializer("SuppressionsAdded", {"added": serializers.IntegerField()})},
        description="Adds addresses that must never be emailed by this workspace; an address already listed is kept as it is. "
        "Any invalid address refuses the whole request (400, naming it).",
    )
    def post(self, request):
        data = self.AddInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        added = suppressions_add(
            workspace=request.workspace,
            emails=data.validated_data["emails"],
            reason=Suppression.Reason.MANUAL,
            detail=data.validated_data.get("detail", "") or "Added through the API",
        )
        return Response({"added": added}, status=201)


class SuppressionDetailView(WorkspaceAPIView):
    @extend_schema(responses=SuppressionOutputSerializer)
    def get(self, request, suppression_id: int):
        entry = suppressions_list(workspace=request.workspace).filter(pk=suppression_id).first()
        if entry is None:
            raise NotFound("No such suppressed address.")
        return Response(SuppressionOutputSerializer(entry).data)

    @extend_schema(responses={204: None}, description="Removes an address from this workspace's list: it may be emailed again.")
    def delete(self, request, suppression_id: int):
        suppression_remove(workspace=request.workspace, suppression_id=suppression_id)
        return Response(status=204)


class BounceReportView(WorkspaceAPIView):
    rate_class = "writes"

    class InputSerializer(serializers.Serializer):
        emails = serializers.ListField(child=serializers.CharField(allow_blank=True), min_length=1, max_length=MAX_REPORTED)

    @extend_schema(
        request=InputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
        responses=inline_serializer(
            "BounceReport",
            {
                "refunded": inline_serializer(
                    "BounceRefunded",
                    {"email": serializers.CharField(), "credits": serializers.DecimalField(max_digits=10, decimal_places=2)},
                    many=True,
                ),
                "not_refunded": inline_serializer(
                    "BounceNotRefunded",
                    {
                        "email": serializers.CharField(),
                        "reason": serializers.ChoiceField(
                            choices=[Reason.NOT_BOUGHT, Reason.TOO_OLD, Reason.ALREADY_REFUNDED, Reason.INVALID_EMAIL]
                        ),
                    },
                    many=True,
                ),
            },
        ),
        description="Addresses that hard-bounced in another tool. Each is suppressed for this workspace; one it bought, "
        "pulled or enriched from Cursive within the refund window gets its credits back, once.",
    )
    # Each address is refunded in a transaction of its own, so the answer is stored after them: a retry after a
    # failure refunds nothing twice (those addresses answer `already_refunded`).
    @idempotent()
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = bounces_report(workspace=request.workspace, emails=data.validated_data["emails"])
        return Response({"refunded": report.refunded, "not_refunded": report.not_refunded})
