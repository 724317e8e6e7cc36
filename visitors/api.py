from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from cursive.api.errors import json_error
from cursive.api.pagination import CURSOR_PARAMETERS, page_of, paginated_response
from cursive.api.views import WorkspaceAPIView
from cursive.errors import ValidationFailed

from . import selectors, services
from .models import Pixel, Visitor


class PixelSerializer(serializers.ModelSerializer):
    snippet = serializers.CharField(read_only=True, help_text="The HTML a site owner pastes into <head>.")

    class Meta:
        model = Pixel
        fields = ("id", "name", "domain", "site_key", "status", "snippet", "last_event_at")


class PixelInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    domain = serializers.CharField(max_length=300, help_text=services.DOMAIN_HELP)


class PixelListCreateView(WorkspaceAPIView):
    @extend_schema(parameters=CURSOR_PARAMETERS, responses=page_of(PixelSerializer), operation_id="v1_pixels_list")
    def get(self, request):
        pixels = selectors.workspace_pixels(workspace=request.workspace)
        return paginated_response(request, pixels, ordering=("-created_at", "-id"), serializer_class=PixelSerializer)

    @extend_schema(request=PixelInputSerializer, responses={201: PixelSerializer})
    def post(self, request):
        data = PixelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # This limit's headers replace the writes class's: it is the one a client adding pixels meets.
        try:
            pixel, decision = services.pixel_create_within_limit(workspace=request.workspace, **data.validated_data)
        except services.PixelLimitReached as exc:
            response, headers = json_error(429, exc.code, exc.message), exc.headers()
        else:
            response, headers = Response(PixelSerializer(pixel).data, status=201), decision.headers()
        for name, value in headers.items():
            response[name] = value
        return response


class PixelDetailView(WorkspaceAPIView):
    @extend_schema(responses=PixelSerializer)
    def get(self, request, pixel_id: int):
        return Response(PixelSerializer(selectors.pixel_get(workspace=request.workspace, pixel_id=pixel_id)).data)

    @extend_schema(request=PixelInputSerializer(partial=True), responses=PixelSerializer)
    def patch(self, request, pixel_id: int):
        selectors.pixel_get(workspace=request.workspace, pixel_id=pixel_id)
        data = PixelInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        pixel = services.pixel_update(workspace=request.workspace, pixel_id=pixel_id, **data.validated_data)
        return Response(PixelSerializer(pixel).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pixel_id: int):
        services.pixel_delete(workspace=request.workspace, pixel_id=pixel_id)
        return Response(status=204)


class CompanySerializer(serializers.Serializer):
    name = serializers.CharField()
    domain = serializers.CharField(allow_null=True)


class PersonSerializer(serializers.Serializer):
    email = serializers.CharField(allow_null=True)
    first_name = serializers.CharField(allow_null=True)
    last_name = serializers.CharField(allow_null=True)
    title = serializers.CharField(allow_null=True)
    company_name = serializers.CharField(allow_null=True)


class VisitorSerializer(serializers.ModelSerializer):
    pixel_id = serializers.IntegerField()
    company = serializers.SerializerMethodField()
    person = serializers.SerializerMethodField()
    lead_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Visitor
        fields = (
            "id",
            "pixel_id",
            "first_seen",
            "last_seen",
            "pageviews",
            "engaged_seconds",
            "last_url",
            "company",
            "person",
            "identified_by",
            "lead_id",
        )

    @extend_schema(responses=CompanySerializer(allow_null=True))
    def get_company(self, visitor) -> dict | None:
        if not visitor.company_name:
            return None
        return {"name": visitor.company_name, "domain": visitor.company_domain}

    @extend_schema(responses=PersonSerializer(allow_null=True))
    def get_person(self, visitor) -> dict | None:
        if not (visitor.email or visitor.first_name or visitor.last_name):
            return None
        return {
            "email": visitor.email,
            "first_name": visitor.first_name,
            "last_name": visitor.last_name,
            "title": visitor.title,
            "company_name": visitor.person_company_name,
        }


class VisitorEventSerializer(serializers.Serializer):
    type = serializers.CharField()
    url = serializers.CharField()
    at = serializers.DateTimeField(source="received_at")


class VisitorDetailSerializer(VisitorSerializer):
    events = serializers.SerializerMethodField(help_text=f"The latest {selectors.VISITOR_EVENTS_SHOWN} events, newest first.")

    class Meta(VisitorSerializer.Meta):
        fields = (*VisitorSerializer.Meta.fields, "events")

    @extend_schema(responses=VisitorEventSerializer(many=True))
    def get_events(self, visitor) -> list:
        return VisitorEventSerializer(selectors.visitor_events(visitor=visitor), many=True).data


def _bool_param(request, name: str) -> bool | None:
    raw = (request.query_params.get(name) or "").lower()
    if not raw:
        return None
    if raw not in ("true", "false"):
        raise ValidationFailed(f"`{name}` is true or false.", fields={name: ["Use true or false."]})
    return raw == "true"


def _int_param(request, name: str) -> int | None:
    raw = request.query_params.get(name) or ""
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValidationFailed(f"`{name}` is an id.", fields={name: ["Use a pixel id from GET /api/v1/pixels."]})
    return int(raw)


class VisitorListView(WorkspaceAPIView):
    @extend_schema(
        parameters=[
            *CURSOR_PARAMETERS,
            OpenApiParameter("pixel", int, description="Only this pixel's visitors."),
            OpenApiParameter("identified", bool, description="Only identified (true) or anonymous (false) visitors."),
        ],
        responses=page_of(VisitorSerializer),
        operation_id="v1_visitors_list",
    )
    def get(self, request):
        visitors = selectors.workspace_visitors(
            workspace=request.workspace, pixel_id=_int_param(request, "pixel"), identified=_bool_param(request, "identified")
        )
        return paginated_response(request, visitors, ordering=("-last_seen", "-id"), serializer_class=VisitorSerializer)


class VisitorDetailView(WorkspaceAPIView):
    @extend_schema(responses=VisitorDetailSerializer)
    def get(self, request, visitor_id: int):
        visitor = selectors.visitor_get(workspace=request.workspace, visitor_id=visitor_id)
        return Response(VisitorDetailSerializer(visitor).data)
