from django.urls import path  # noqa: F401  (routes are added by each part of the app)

urlpatterns: list = []
