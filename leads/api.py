from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from cursive.api.pagination import CURSOR_PARAMETERS, paginated_response
from cursive.api.views import WorkspaceAPIView

from . import selectors
from .models import Lead
from .services import LEAD_FIELDS


class LeadOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = ("id", *LEAD_FIELDS, "source", "status", "email_status", "phone_status", "score", "tags",
                  "created_at")


class LeadListView(WorkspaceAPIView):
    class FilterSerializer(serializers.Serializer):
        source = serializers.ChoiceField(choices=Lead.Source.choices, required=False)
        status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)
        tag = serializers.CharField(required=False, max_length=50)

    @extend_schema(
        parameters=[*CURSOR_PARAMETERS, OpenApiParameter("source", str), OpenApiParameter("status", str),
                    OpenApiParameter("tag", str)],
        responses=LeadOutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        leads = selectors.workspace_leads(workspace=request.workspace, **filters.validated_data)
        return paginated_response(request, leads, ordering=("-created_at", "-id"),
                                  serializer_class=LeadOutputSerializer)
