from django.urls import path  # noqa: F401  (routes are added by each part of the app)

app_name = "sequences"

# Public routes answered without logging in (the unsubscribe page and one-click POST, the click redirect, the
# open pixel) and the pages of the app (sequences, the builder, mailboxes, the suppression list).
urlpatterns: list = []
