from django.urls import path

from . import api

urlpatterns = [
    path("partner/uploads", api.UploadCreateView.as_view(), name="api-partner-uploads"),
    path("partner/uploads/<int:upload_id>", api.UploadDetailView.as_view(), name="api-partner-upload"),
    path("partner/earnings", api.EarningsView.as_view(), name="api-partner-earnings"),
]
