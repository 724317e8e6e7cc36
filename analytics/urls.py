from django.urls import path

from . import jobs_views, monitoring, views

urlpatterns = [
    path("analytics/", views.analytics_page, name="analytics"),
    path("onboarding/dismiss/", views.onboarding_notice_dismiss, name="onboarding-dismiss"),
    path("admin/monitoring/", monitoring.monitoring, name="staff-monitoring"),
    path("admin/jobs/", jobs_views.jobs_page, name="staff-jobs"),
    path("admin/jobs/export.csv", jobs_views.jobs_export, name="staff-jobs-export"),
    path("admin/jobs/<str:source>/<str:job_id>/retry/", jobs_views.job_retry, name="staff-job-retry"),
]
