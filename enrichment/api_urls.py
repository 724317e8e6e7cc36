from django.urls import path

from . import api

urlpatterns = [
    path("enrichments", api.EnrichmentListCreateView.as_view(), name="api-enrichments"),
    path("enrichments/<int:enrichment_id>", api.EnrichmentDetailView.as_view(), name="api-enrichment"),
    path("enrichments/<int:enrichment_id>/confirm", api.EnrichmentConfirmView.as_view(), name="api-enrichment-confirm"),
    path("enrichments/<int:enrichment_id>/cancel", api.EnrichmentCancelView.as_view(), name="api-enrichment-cancel"),
    path("enrichments/<int:enrichment_id>/download", api.EnrichmentDownloadView.as_view(), name="api-enrichment-download"),
]
