from django.urls import path

from . import views

app_name = "partners"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("profile/", views.profile_update, name="profile_update"),
    path("uploads/", views.uploads, name="uploads"),
    path("uploads/new/", views.upload_start, name="upload_start"),
    path("uploads/draft/<str:token>/", views.upload_mapping, name="upload_mapping"),
    path("uploads/<int:upload_id>/", views.upload_detail, name="upload_detail"),
    path("uploads/<int:upload_id>/errors.csv", views.upload_errors_csv, name="upload_errors_csv"),
    path("earnings/", views.earnings, name="earnings"),
]
