from django.urls import path

from . import views

app_name = "enrichment"

urlpatterns = [
    path("", views.enrichment_list, name="list"),
    path("new/", views.enrichment_start, name="start"),
    path("new/<str:token>/", views.enrichment_mapping, name="mapping"),
    path("<int:enrichment_id>/", views.enrichment_detail, name="detail"),
    path("<int:enrichment_id>/confirm/", views.enrichment_confirm, name="confirm"),
    path("<int:enrichment_id>/cancel/", views.enrichment_cancel, name="cancel"),
    path("<int:enrichment_id>/download", views.enrichment_download, name="download"),
]
