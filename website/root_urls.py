"""`/`: the public home, or the dashboard for someone logged in. Outside the `website` namespace, because the
whole product (log-in redirects, links, tests) knows the dashboard as `dashboard`."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="dashboard"),
]
