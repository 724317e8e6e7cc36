from django.urls import path

from . import views_public, views_suppression

app_name = "sequences"

urlpatterns = [
    # Reached from emails, without logging in.
    path("e/c/", views_public.click, name="click"),
    path("e/o/<str:token>.gif", views_public.open_pixel, name="open"),
    path("u/<str:token>/", views_public.unsubscribe, name="unsubscribe"),
]

urlpatterns += [
    path("sequences/suppression/", views_suppression.suppression_list, name="suppression_list"),
    path("sequences/suppression/add/", views_suppression.suppression_add, name="suppression_add"),
    path("sequences/suppression/import/", views_suppression.suppression_import, name="suppression_import"),
    path("sequences/suppression/export.csv", views_suppression.suppression_export, name="suppression_export"),
    path("sequences/suppression/<int:suppression_id>/remove/", views_suppression.suppression_delete, name="suppression_delete"),
]
