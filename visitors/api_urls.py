from django.urls import path

from . import api

urlpatterns = [
    path("pixels", api.PixelListCreateView.as_view(), name="api-pixels"),
    path("pixels/<int:pixel_id>", api.PixelDetailView.as_view(), name="api-pixel"),
    path("visitors", api.VisitorListView.as_view(), name="api-visitors"),
    path("visitors/<int:visitor_id>", api.VisitorDetailView.as_view(), name="api-visitor"),
]
