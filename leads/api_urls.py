from django.urls import path

from . import api

urlpatterns = [
    path("leads", api.LeadListView.as_view(), name="api-leads"),
]
