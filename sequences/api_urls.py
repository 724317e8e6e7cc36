from django.urls import path

from . import api_suppression

urlpatterns: list = [
    path("suppressions", api_suppression.SuppressionListView.as_view(), name="api-suppressions"),
    path("suppressions/<int:suppression_id>", api_suppression.SuppressionDetailView.as_view(), name="api-suppression"),
    path("bounces", api_suppression.BounceReportView.as_view(), name="api-bounces"),
]
