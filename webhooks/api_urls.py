from django.urls import path

from . import api

urlpatterns = [
    path("webhooks", api.EndpointListCreateView.as_view(), name="api-webhooks"),
    path("webhooks/<int:endpoint_id>", api.EndpointDetailView.as_view(), name="api-webhook"),
    path("webhooks/<int:endpoint_id>/test", api.EndpointTestView.as_view(), name="api-webhook-test"),
    path("webhooks/<int:endpoint_id>/rotate-secret", api.EndpointRotateSecretView.as_view(), name="api-webhook-rotate"),
    path("webhooks/<int:endpoint_id>/deliveries", api.DeliveryListView.as_view(), name="api-webhook-deliveries"),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/retry",
        api.DeliveryRetryView.as_view(),
        name="api-webhook-delivery-retry",
    ),
]
