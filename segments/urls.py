from django.urls import path

from . import views

app_name = "segments"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("search/save/", views.save_search, name="save_search"),
    path("segments/", views.segment_list, name="list"),
    path("segments/settings/", views.settings_update, name="settings"),
    path("segments/<int:segment_id>/", views.segment_detail, name="detail"),
    path("segments/<int:segment_id>/autosave/", views.segment_autosave, name="autosave"),
    path("segments/<int:segment_id>/run/", views.segment_run, name="run"),
    path("segments/<int:segment_id>/action/", views.segment_action, name="action"),
]
