import json

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from credits.selectors import credit_balance
from cursive.api.parsers import refuse_oversized
from cursive.api.views import WorkspaceAPIView
from cursive.errors import PermissionDenied, ValidationFailed

from . import selectors, services
from .models import Payout, Upload

ERRORS_SHOWN = 1000


def _partner_only(request) -> None:
    if not request.workspace.is_partner:
        raise PermissionDenied("The partner API is for partner workspaces.")


class UploadSerializer(serializers.ModelSerializer):
    errors = serializers.SerializerMethodField()
    progress = serializers.IntegerField(read_only=True)

    class Meta:
        model = Upload
        fields = (
            "id",
            "status",
            "original_name",
            "price_per_lead",
            "total_rows",
            "valid_rows",
            "duplicate_rows",
            "invalid_rows",
            "listed_rows",
            "errors",
            "progress",
            "failure_message",
            "review_note",
            "created_at",
            "finished_at",
        )

    def get_errors(self, upload) -> list[dict]:
        return list(selectors.upload_errors(upload=upload).values("row", "field", "message")[:ERRORS_SHOWN])


class UploadCreateView(WorkspaceAPIView):
    parser_classes = [MultiPartParser]

    class UploadInputSerializer(serializers.Serializer):
        file = serializers.FileField()
        price_per_lead = serializers.DecimalField(max_digits=10, decimal_places=2)
        mapping = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(
        request={"multipart/form-data": UploadInputSerializer},
        responses={
            202: inline_serializer("UploadAccepted", {"id": serializers.IntegerField(), "status": serializers.CharField()})
        },
    )
    def post(self, request):
        _partner_only(request)
        refuse_oversized(request)
        data = self.UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mapping = data.validated_data.get("mapping") or None
        if mapping:
            try:
                mapping = json.loads(mapping)
            except ValueError as exc:
                raise ValidationFailed(
                    '`mapping` must be JSON: {"CSV header": "lead field"}.', fields={"mapping": ["Not JSON."]}
                ) from exc
        upload = services.upload_create(
            workspace=request.workspace,
            file=data.validated_data["file"],
            price_per_lead=data.validated_data["price_per_lead"],
            mapping=mapping,
            created_by=request.user,
        )
        return Response({"id": upload.pk, "status": upload.status}, status=202)


class UploadDetailView(WorkspaceAPIView):
    @extend_schema(responses=UploadSerializer)
    def get(self, request, upload_id: int):
        _partner_only(request)
        return Response(UploadSerializer(selectors.upload_get(workspace=request.workspace, upload_id=upload_id)).data)


class EarningsView(WorkspaceAPIView):
    class SaleSerializer(serializers.Serializer):
        purchase_id = serializers.IntegerField()
        lead_id = serializers.IntegerField(source="listing_id")
        title = serializers.CharField(source="listing.title")
        company_name = serializers.CharField(source="listing.company_name")
        price = serializers.DecimalField(max_digits=10, decimal_places=2)
        earning = serializers.DecimalField(max_digits=10, decimal_places=2, source="partner_earning")
        sold_at = serializers.DateTimeField(source="purchase.completed_at")

    class PayoutSerializer(serializers.ModelSerializer):
        class Meta:
            model = Payout
            fields = ("id", "credits", "amount_cents", "method", "external_reference", "created_at")

    @extend_schema(
        responses=inline_serializer(
            "PartnerEarnings",
            {
                "balance": serializers.DecimalField(max_digits=14, decimal_places=2),
                "earned_total": serializers.DecimalField(max_digits=14, decimal_places=2),
                "earned_this_month": serializers.DecimalField(max_digits=14, decimal_places=2),
                "paid_out_total": serializers.DecimalField(max_digits=14, decimal_places=2),
                "listed": serializers.IntegerField(),
                "sold": serializers.IntegerField(),
                "sales": SaleSerializer(many=True),
                "payouts": PayoutSerializer(many=True),
            },
        )
    )
    def get(self, request):
        _partner_only(request)
        summary = selectors.partner_summary(workspace=request.workspace)
        return Response(
            {
                "balance": f"{credit_balance(workspace=request.workspace):.2f}",
                **{key: f"{summary[key]:.2f}" for key in ("earned_total", "earned_this_month", "paid_out_total")},
                "listed": summary["listed"],
                "sold": summary["sold"],
                "sales": self.SaleSerializer(selectors.partner_sales(workspace=request.workspace)[:200], many=True).data,
                "payouts": self.PayoutSerializer(selectors.partner_payouts(workspace=request.workspace)[:200], many=True).data,
            }
        )
