from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("settings/webhooks/", views.endpoint_list, name="endpoint_list"),
    path("settings/webhooks/new/", views.endpoint_new, name="endpoint_new"),
    path("settings/webhooks/new/slack/", views.slack_new, name="slack_new"),
    path("settings/webhooks/<int:endpoint_id>/", views.endpoint_detail, name="endpoint_detail"),
    path("settings/webhooks/<int:endpoint_id>/status/", views.endpoint_status, name="endpoint_status"),
    path("settings/webhooks/<int:endpoint_id>/test/", views.endpoint_test, name="endpoint_test"),
    path("settings/webhooks/<int:endpoint_id>/rotate-secret/", views.endpoint_rotate, name="endpoint_rotate"),
    path("settings/webhooks/<int:endpoint_id>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path("settings/webhooks/<int:endpoint_id>/replay/", views.endpoint_replay, name="endpoint_replay"),
    path(
        "settings/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/",
        views.delivery_detail,
        name="delivery_detail",
    ),
    path(
        "settings/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/retry/",
        views.delivery_retry,
        name="delivery_retry",
    ),
]
