from django.urls import path

from . import docs_views, views

app_name = "website"

urlpatterns = [
    path("pricing", views.pricing, name="pricing"),
    path("docs/", docs_views.docs_index, name="docs"),
    path("docs/search", docs_views.docs_search, name="docs_search"),
    path("docs/<slug:slug>/", docs_views.docs_page, name="docs_page"),
]
