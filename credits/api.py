from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts.models import OnboardingStep
from accounts.permissions import IsWorkspaceManager
from cursive.api.idempotency import idempotent
from cursive.api.pagination import CURSOR_PARAMETERS, page_of, paginated_response
from cursive.api.views import WorkspaceAPIView

from . import selectors, services
from .models import CreditPackage, CreditTransaction


class BalanceView(WorkspaceAPIView):
    @extend_schema(
        responses=inline_serializer(
            "CreditBalance",
            {
                "balance": serializers.DecimalField(max_digits=14, decimal_places=2),
                "currency_value_cents_per_credit": serializers.IntegerField(),
                "low_balance_threshold": serializers.DecimalField(max_digits=14, decimal_places=2),
                "is_low": serializers.BooleanField(),
            },
        )
    )
    def get(self, request):
        account = selectors.credit_account(workspace=request.workspace)
        return Response(
            {
                "balance": f"{account.balance:.2f}",
                "currency_value_cents_per_credit": settings.CREDIT_VALUE_CENTS,
                "low_balance_threshold": f"{account.low_balance_threshold:.2f}",
                "is_low": account.is_low,
            }
        )


class PackageSerializer(serializers.ModelSerializer):
    credits = serializers.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        model = CreditPackage
        fields = ("id", "label", "credits", "price_cents", "popular", "cents_per_credit")


class PackageListView(WorkspaceAPIView):
    @extend_schema(responses=page_of(PackageSerializer), operation_id="v1_credits_packages_list")
    def get(self, request):
        return Response({"results": PackageSerializer(selectors.active_packages(), many=True).data, "next": None})


class CheckoutView(WorkspaceAPIView):
    rate_class = "credit_checkouts"
    permission_classes = [IsWorkspaceManager]

    class CheckoutInputSerializer(serializers.Serializer):
        package = serializers.IntegerField()

    class CheckoutOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.CharField()
        checkout_id = serializers.CharField(source="checkout_session_id")
        checkout_url = serializers.CharField()

    @extend_schema(
        request=CheckoutInputSerializer,
        responses={201: CheckoutOutputSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @idempotent()  # calls Stripe: its answer cannot share the purchase's transaction
    def post(self, request):
        data = self.CheckoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        purchase = services.credit_checkout_create(
            workspace=request.workspace,
            package_id=data.validated_data["package"],
            created_by=request.user,
            base_url=request.build_absolute_uri("/"),
        )
        return Response(self.CheckoutOutputSerializer(purchase).data, status=201)


class TransactionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditTransaction
        fields = ("id", "kind", "amount", "balance_after", "created_at", "reference", "reason")


class TransactionListView(WorkspaceAPIView):
    class FilterSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=CreditTransaction.Kind.choices, required=False)

    @extend_schema(
        parameters=[*CURSOR_PARAMETERS, OpenApiParameter("kind", str)],
        responses=page_of(TransactionSerializer),
        operation_id="v1_credits_transactions_list",
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = selectors.ledger(workspace=request.workspace, **filters.validated_data)
        return paginated_response(request, rows, ordering=("-created_at", "-id"), serializer_class=TransactionSerializer)


class OnboardingStepSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=OnboardingStep.Key.choices)
    title = serializers.CharField()
    done = serializers.BooleanField()


class OnboardingSerializer(serializers.Serializer):
    steps = OnboardingStepSerializer(many=True)
    completed = serializers.IntegerField()
    total = serializers.IntegerField()
    bonus_credits_granted = serializers.DecimalField(max_digits=14, decimal_places=2)


class OnboardingView(WorkspaceAPIView):
    @extend_schema(responses=OnboardingSerializer, operation_id="v1_onboarding_retrieve")
    def get(self, request):
        return Response(OnboardingSerializer(selectors.onboarding_status(workspace=request.workspace)).data)
