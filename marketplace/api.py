from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from cursive.api.idempotency import idempotent
from cursive.api.pagination import CURSOR_PARAMETERS, page_of, paginated_response
from cursive.api.views import CsvAPIView, WorkspaceAPIView
from cursive.errors import Conflict
from cursive.replicas import reads_from_replica, replica_alias
from leads import normalize
from leads.export import csv_download, queryset_csv

from . import selectors, services
from .filters import ListingFilterSerializer
from .models import LeadPurchase, Listing


def _paid_in_credits(request) -> bool:
    """A credit purchase only touches the database; a card purchase calls Stripe between its transactions."""
    return not (isinstance(request.data, dict) and request.data.get("payment") == LeadPurchase.Payment.CARD)


class ListingOutputSerializer(serializers.ModelSerializer):
    email = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()

    class Meta:
        model = Listing
        fields = (
            "id",
            "price",
            "quality",
            "title",
            "seniority",
            "company_name",
            "company_size",
            "industry",
            "state",
            "email",
            "phone",
            "has_phone",
            "has_linkedin",
            "listed_at",
        )

    def get_email(self, listing) -> str:
        return normalize.mask_email(listing.email)

    def get_phone(self, listing) -> str:
        return normalize.mask_phone(listing.phone)


FILTER_PARAMETERS = [
    OpenApiParameter(name, str, many=name in ("industry", "state", "company_size", "seniority"))
    for name in ListingFilterSerializer().fields
]


class ListingListView(WorkspaceAPIView):
    @extend_schema(
        parameters=[*CURSOR_PARAMETERS, *FILTER_PARAMETERS],
        responses=page_of(ListingOutputSerializer),
        operation_id="v1_marketplace_leads_list",
    )
    @reads_from_replica
    def get(self, request):
        params = ListingFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.filters()
        listings = selectors.available_listings(filters=filters, exclude_partner=request.workspace)
        return paginated_response(
            request, listings, ordering=selectors.SORTS[filters.sort], serializer_class=ListingOutputSerializer
        )


class PurchaseOutputSerializer(serializers.ModelSerializer):
    lead_ids = serializers.SerializerMethodField()

    class Meta:
        model = LeadPurchase
        fields = (
            "id",
            "status",
            "payment",
            "total_credits",
            "total_cents",
            "lead_ids",
            "checkout_url",
            "created_at",
            "completed_at",
        )

    def get_lead_ids(self, purchase) -> list[int]:
        return sorted(item.listing_id for item in purchase.items.all())


class PurchaseListCreateView(WorkspaceAPIView):
    rate_class = {"POST": "purchases"}

    class PurchaseInputSerializer(serializers.Serializer):
        lead_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1), min_length=1, max_length=services.MAX_LEADS_PER_PURCHASE
        )
        payment = serializers.ChoiceField(choices=LeadPurchase.Payment.choices, default=LeadPurchase.Payment.CREDITS)

    @extend_schema(
        parameters=CURSOR_PARAMETERS, responses=page_of(PurchaseOutputSerializer), operation_id="v1_marketplace_purchases_list"
    )
    def get(self, request):
        purchases = selectors.workspace_purchases(workspace=request.workspace).prefetch_related("items")
        return paginated_response(request, purchases, ordering=("-created_at", "-id"), serializer_class=PurchaseOutputSerializer)

    @extend_schema(
        request=PurchaseInputSerializer,
        responses={201: PurchaseOutputSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @idempotent(atomic=_paid_in_credits)
    def post(self, request):
        data = self.PurchaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        purchase = services.purchase_create(
            workspace=request.workspace, created_by=request.user, base_url=request.build_absolute_uri("/"), **data.validated_data
        )
        body = PurchaseOutputSerializer(purchase).data
        if purchase.payment == LeadPurchase.Payment.CREDITS:
            body.pop("checkout_url")
        return Response(body, status=201)


class PurchaseDownloadView(CsvAPIView):
    export_gate = True

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request, purchase_id: int):
        purchase = selectors.purchase_get(workspace=request.workspace, purchase_id=purchase_id)
        if purchase.status != LeadPurchase.Status.COMPLETE:
            raise Conflict(
                f"Purchase #{purchase.pk} is {purchase.get_status_display().lower()}; only complete purchases can be downloaded.",
                code="purchase_not_complete",
            )
        return purchase_csv_response(purchase)


def purchase_csv_response(purchase: LeadPurchase):
    leads = selectors.purchase_leads(purchase=purchase).using(replica_alias(workspace=purchase.workspace))
    return csv_download(queryset_csv(leads), f"cursive-purchase-{purchase.pk}.csv")
