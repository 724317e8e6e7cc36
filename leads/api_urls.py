from django.urls import path

from . import api

urlpatterns = [
    path("leads", api.LeadListView.as_view(), name="api-leads"),
    path("leads/export", api.LeadExportView.as_view(), name="api-leads-export"),
    path("leads/bulk", api.LeadBulkView.as_view(), name="api-leads-bulk"),
]
