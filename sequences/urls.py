from django.urls import path

from . import views, views_leads, views_public, views_suppression

app_name = "sequences"

urlpatterns = [
    path("sequences/enrol-from-leads/", views_leads.enrol_from_leads, name="enrol_from_leads"),
    # Reached from emails, without logging in.
    path("e/c/", views_public.click, name="click"),
    path("e/o/<str:token>.gif", views_public.open_pixel, name="open"),
    path("u/<str:token>/", views_public.unsubscribe, name="unsubscribe"),
    # The dashboard's pages.
    path("sequences/", views.sequence_list, name="list"),
    path("sequences/new/", views.sequence_new, name="new"),
    path("sequences/<int:sequence_id>/", views.sequence_detail, name="detail"),
    path("sequences/<int:sequence_id>/status/", views.sequence_status, name="status"),
    path("sequences/<int:sequence_id>/delete/", views.sequence_delete, name="delete"),
    path("sequences/<int:sequence_id>/steps/", views.step_add, name="step_add"),
    path("sequences/<int:sequence_id>/steps/<int:position>/", views.step_edit, name="step_edit"),
    path("sequences/<int:sequence_id>/steps/<int:position>/move/", views.step_move, name="step_move"),
    path("sequences/<int:sequence_id>/steps/<int:position>/delete/", views.step_delete, name="step_delete"),
    path("sequences/<int:sequence_id>/preview/", views.step_preview, name="preview"),
    path("sequences/<int:sequence_id>/enroll/", views.sequence_enroll, name="enroll"),
    path("sequences/<int:sequence_id>/report/", views.sequence_report, name="report"),
    path("sequences/<int:sequence_id>/enrollments/<int:enrollment_id>/stop/", views.enrollment_stop, name="enrollment_stop"),
    path("sequences/mailboxes/", views.mailbox_list, name="mailbox_list"),
    path("sequences/mailboxes/new/", views.mailbox_new, name="mailbox_new"),
    path("sequences/mailboxes/<int:mailbox_id>/", views.mailbox_edit, name="mailbox_edit"),
    path("sequences/mailboxes/<int:mailbox_id>/delete/", views.mailbox_delete, name="mailbox_delete"),
    path("sequences/leads/<int:lead_id>/timeline/", views.lead_timeline, name="lead_timeline"),
    path("sequences/suppression/", views_suppression.suppression_list, name="suppression_list"),
    path("sequences/suppression/add/", views_suppression.suppression_add, name="suppression_add"),
    path("sequences/suppression/import/", views_suppression.suppression_import, name="suppression_import"),
    path("sequences/suppression/export.csv", views_suppression.suppression_export, name="suppression_export"),
    path("sequences/suppression/<int:suppression_id>/remove/", views_suppression.suppression_delete, name="suppression_delete"),
]
