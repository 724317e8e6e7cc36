from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("checkout/local/<str:session_id>/", views.local_checkout, name="local_checkout"),
    path("webhooks/stripe", views.stripe_webhook, name="stripe_webhook"),
]
