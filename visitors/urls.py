from django.urls import path

from . import views

app_name = "visitors"

urlpatterns = [
    path("p/collect", views.collect_events, name="collect"),
]
