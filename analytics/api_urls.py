from django.urls import path

from . import api

urlpatterns = [
    path("analytics/summary", api.SummaryView.as_view(), name="api-analytics-summary"),
]
