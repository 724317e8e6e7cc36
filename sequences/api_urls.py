from django.urls import path

from . import api

urlpatterns = [
    path("mailboxes", api.MailboxListCreateView.as_view(), name="api-mailboxes"),
    path("mailboxes/<int:mailbox_id>", api.MailboxDetailView.as_view(), name="api-mailbox"),
    path("sequences", api.SequenceListCreateView.as_view(), name="api-sequences"),
    path("sequences/<int:sequence_id>", api.SequenceDetailView.as_view(), name="api-sequence"),
    path("sequences/<int:sequence_id>/enrollments", api.EnrollmentListCreateView.as_view(), name="api-sequence-enrollments"),
]
