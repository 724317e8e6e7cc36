from django.urls import path

from . import api, api_suppression

urlpatterns = [
    path("suppressions", api_suppression.SuppressionListView.as_view(), name="api-suppressions"),
    path("suppressions/<int:suppression_id>", api_suppression.SuppressionDetailView.as_view(), name="api-suppression"),
    path("bounces", api_suppression.BounceReportView.as_view(), name="api-bounces"),
    path("mailboxes", api.MailboxListCreateView.as_view(), name="api-mailboxes"),
    path("mailboxes/<int:mailbox_id>", api.MailboxDetailView.as_view(), name="api-mailbox"),
    path("sequences", api.SequenceListCreateView.as_view(), name="api-sequences"),
    path("sequences/<int:sequence_id>", api.SequenceDetailView.as_view(), name="api-sequence"),
    path("sequences/<int:sequence_id>/enrollments", api.EnrollmentListCreateView.as_view(), name="api-sequence-enrollments"),
]
