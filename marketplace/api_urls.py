from django.urls import path

from . import api

urlpatterns = [
    path("marketplace/leads", api.ListingListView.as_view(), name="api-marketplace-leads"),
    path("marketplace/purchases", api.PurchaseListCreateView.as_view(), name="api-marketplace-purchases"),
    path(
        "marketplace/purchases/<int:purchase_id>/download",
        api.PurchaseDownloadView.as_view(),
        name="api-marketplace-purchase-download",
    ),
]
