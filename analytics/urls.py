from django.urls import path

from . import monitoring, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("analytics/", views.analytics_page, name="analytics"),
    path("admin/monitoring/", monitoring.monitoring, name="staff-monitoring"),
]
