from django.urls import path

from . import views_leads, views_public

app_name = "sequences"

urlpatterns = [
    path("sequences/enrol-from-leads/", views_leads.enrol_from_leads, name="enrol_from_leads"),
    # Reached from emails, without logging in.
    path("e/c/", views_public.click, name="click"),
    path("e/o/<str:token>.gif", views_public.open_pixel, name="open"),
    path("u/<str:token>/", views_public.unsubscribe, name="unsubscribe"),
]
