from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import IsWorkspaceManager
from cursive.api.pagination import CURSOR_PARAMETERS, page_of, paginated_response
from cursive.api.views import WorkspaceAPIView
from cursive.errors import ValidationFailed

from . import selectors, services
from .models import Delivery, Endpoint


class EndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Endpoint
        fields = ("id", "url", "events", "status", "description", "created_at")


class EndpointCreatedSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(help_text="`whsec_` + base64: shown only in this answer.")

    class Meta:
        model = Endpoint
        fields = ("id", "url", "events", "status", "description", "created_at", "secret")


class EndpointInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    events = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, help_text="Empty or absent: every event."
    )
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)


class EndpointPatchSerializer(EndpointInputSerializer):
    url = serializers.CharField(max_length=2000, required=False)
    status = serializers.ChoiceField(choices=Endpoint.Status.values, required=False)


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField()


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.public_id")
    event_type = serializers.CharField(source="event.type")

    class Meta:
        model = Delivery
        fields = ("id", "event_id", "event_type", "status", "attempts", "response_status", "created_at", "next_attempt_at")


class _ManagerView(WorkspaceAPIView):
    """Endpoints decide where the workspace's data goes: owners and admins manage them."""

    permission_classes = [IsWorkspaceManager]


class EndpointListCreateView(_ManagerView):
    @extend_schema(parameters=CURSOR_PARAMETERS, responses=page_of(EndpointSerializer), operation_id="v1_webhooks_list")
    def get(self, request):
        endpoints = selectors.workspace_endpoints(workspace=request.workspace).filter(kind=Endpoint.Kind.WEBHOOK)
        return paginated_response(request, endpoints, ordering=("-created_at", "-id"), serializer_class=EndpointSerializer)

    @extend_schema(request=EndpointInputSerializer, responses={201: EndpointCreatedSerializer})
    def post(self, request):
        data = EndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(workspace=request.workspace, **data.validated_data)
        return Response(EndpointCreatedSerializer(endpoint).data, status=201)


class EndpointDetailView(_ManagerView):
    @extend_schema(responses=EndpointSerializer)
    def get(self, request, endpoint_id: int):
        return Response(EndpointSerializer(selectors.endpoint_get(workspace=request.workspace, endpoint_id=endpoint_id)).data)

    @extend_schema(request=EndpointPatchSerializer, responses=EndpointSerializer)
    def patch(self, request, endpoint_id: int):
        selectors.endpoint_get(workspace=request.workspace, endpoint_id=endpoint_id)
        data = EndpointPatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(workspace=request.workspace, endpoint_id=endpoint_id, **data.validated_data)
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request, endpoint_id: int):
        services.endpoint_delete(workspace=request.workspace, endpoint_id=endpoint_id)
        return Response(status=204)


class EndpointTestView(_ManagerView):
    @extend_schema(request=None, responses={202: None})
    def post(self, request, endpoint_id: int):
        services.endpoint_send_test(workspace=request.workspace, endpoint_id=endpoint_id)
        return Response(status=202)


class EndpointRotateSecretView(_ManagerView):
    @extend_schema(request=None, responses=SecretSerializer)
    def post(self, request, endpoint_id: int):
        endpoint = services.endpoint_rotate_secret(workspace=request.workspace, endpoint_id=endpoint_id)
        return Response({"secret": endpoint.secret})


class DeliveryListView(_ManagerView):
    @extend_schema(
        parameters=[*CURSOR_PARAMETERS, OpenApiParameter("status", str, enum=Delivery.Status.values)],
        responses=page_of(DeliverySerializer),
        operation_id="v1_webhook_deliveries_list",
    )
    def get(self, request, endpoint_id: int):
        endpoint = selectors.endpoint_get(workspace=request.workspace, endpoint_id=endpoint_id)
        status = request.query_params.get("status") or None
        if status is not None and status not in Delivery.Status.values:
            raise ValidationFailed("`status` is pending, succeeded or failed.", fields={"status": ["Unknown status."]})
        deliveries = selectors.endpoint_deliveries(endpoint=endpoint, status=status)
        return paginated_response(request, deliveries, ordering=("-created_at", "-id"), serializer_class=DeliverySerializer)


class DeliveryRetryView(_ManagerView):
    @extend_schema(request=None, responses={202: None})
    def post(self, request, endpoint_id: int, delivery_id: int):
        services.delivery_retry(workspace=request.workspace, endpoint_id=endpoint_id, delivery_id=delivery_id)
        return Response(status=202)
