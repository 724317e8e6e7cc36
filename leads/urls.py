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
]
