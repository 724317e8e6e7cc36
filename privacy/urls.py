from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("privacy/opt-out", views.opt_out, name="opt_out"),
    path("privacy/opt-out/confirm/<str:token>", views.opt_out_confirm_page, name="opt_out_confirm"),
]
