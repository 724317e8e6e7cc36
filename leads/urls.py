from django.urls import path

from . import views

app_name = "leads"

urlpatterns = [
    path("", views.lead_list, name="list"),
    path("new/", views.lead_new, name="new"),
    path("bulk/", views.lead_bulk, name="bulk"),
    path("export/", views.lead_export, name="export"),
    path("updates/", views.lead_updates, name="updates"),
    path("scoring/", views.scoring_profile, name="profile"),
    path("<int:lead_id>/", views.lead_detail, name="detail"),
    path("duplicates/", views.duplicate_list, name="duplicates"),
    path("duplicates/scan/", views.duplicate_scan, name="duplicate_scan"),
    path("duplicates/<int:pair_id>/merge/", views.duplicate_merge, name="duplicate_merge"),
    path("duplicates/<int:pair_id>/dismiss/", views.duplicate_dismiss, name="duplicate_dismiss"),
]
