from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("privacy/opt-out", views.opt_out, name="opt_out"),
]
