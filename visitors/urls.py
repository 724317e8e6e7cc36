from django.urls import path

from . import views

app_name = "visitors"

urlpatterns = [
    path("p/cursive.js", views.snippet_script, name="snippet"),
    path("p/collect", views.collect_events, name="collect"),
]
