from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from cursive.api.pagination import CURSOR_PARAMETERS, page_of, paginated_response
from cursive.api.views import CsvAPIView, WorkspaceAPIView
from cursive.replicas import replica_alias

from . import selectors, services
from .export import WORKSPACE_EXPORT_FIELDS, csv_download, queryset_csv
from .filters import LeadFilterSerializer, parse_lead_filters
from .models import Lead
from .services import LEAD_FIELDS

FILTER_PARAMETERS = [OpenApiParameter(name, str) for name in LeadFilterSerializer().fields]


class LeadOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = (
            "id",
            *LEAD_FIELDS,
            "source",
            "source_detail",
            "status",
            "email_status",
            "phone_status",
            "score",
            "tags",
            "created_at",
        )


class LeadListView(WorkspaceAPIView):
    @extend_schema(
        parameters=[*CURSOR_PARAMETERS, *FILTER_PARAMETERS], responses=page_of(LeadOutputSerializer), operation_id="v1_leads_list"
    )
    def get(self, request):
        filters = parse_lead_filters(request.query_params)
        leads = selectors.workspace_leads(workspace=request.workspace, filters=filters)
        return paginated_response(request, leads, ordering=selectors.SORTS[filters.sort], serializer_class=LeadOutputSerializer)


def export_response(leads, name: str):
    return csv_download(queryset_csv(leads, WORKSPACE_EXPORT_FIELDS), name)


class LeadExportView(CsvAPIView):
    export_gate = True

    @extend_schema(parameters=FILTER_PARAMETERS, responses={(200, "text/csv"): str})
    def get(self, request):
        filters = parse_lead_filters(request.query_params)
        leads = selectors.workspace_leads(workspace=request.workspace, filters=filters).order_by(*selectors.SORTS[filters.sort])
        return export_response(leads.using(replica_alias(workspace=request.workspace)), "cursive-leads.csv")


class LeadBulkView(WorkspaceAPIView):
    class BulkInputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=services.BULK_ACTIONS)
        lead_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=services.MAX_BULK)
        tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
        status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)

    @extend_schema(
        request=BulkInputSerializer,
        responses={
            (200, "application/json"): inline_serializer(
                "LeadBulkResult", {"action": serializers.CharField(), "updated": serializers.IntegerField()}
            ),
            (200, "text/csv"): str,
        },
        description="`export` answers the CSV of the leads; the other actions JSON.",
    )
    def post(self, request):
        data = self.BulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["action"] == "export":
            leads = selectors.workspace_leads(workspace=request.workspace).filter(pk__in=values["lead_ids"])
            return export_response(leads.order_by("-score", "-id"), "cursive-leads-selection.csv")
        updated = services.leads_bulk_update(
            workspace=request.workspace,
            action=values["action"],
            lead_ids=values["lead_ids"],
            tags=values.get("tags"),
            status=values.get("status"),
        )
        return Response({"action": values["action"], "updated": updated})
