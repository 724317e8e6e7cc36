from django.urls import path

from . import views

app_name = "visitors"

urlpatterns = [
    path("pixels/", views.pixel_list, name="pixel_list"),
    path("pixels/<int:pixel_id>/", views.pixel_detail, name="pixel_detail"),
    path("pixels/<int:pixel_id>/status/", views.pixel_status, name="pixel_status"),
    path("pixels/<int:pixel_id>/test-check/", views.pixel_test_check, name="pixel_test_check"),
    path("pixels/<int:pixel_id>/delete/", views.pixel_delete, name="pixel_delete"),
    path("visitors/", views.visitor_list, name="visitor_list"),
    path("visitors/<int:visitor_id>/", views.visitor_detail, name="visitor_detail"),
    path("visitors/<int:visitor_id>/tag/", views.visitor_tag, name="visitor_tag"),
    path("visitors/<int:visitor_id>/enrich/", views.visitor_enrich, name="visitor_enrich"),
]
