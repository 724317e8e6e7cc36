from django.urls import path

from . import api

urlpatterns = [
    path("segments", api.SegmentListCreateView.as_view(), name="api-segments"),
    path("segments/<int:segment_id>", api.SegmentDetailView.as_view(), name="api-segment"),
    path("segments/<int:segment_id>/run", api.SegmentRunView.as_view(), name="api-segment-run"),
]
