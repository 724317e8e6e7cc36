from django.urls import path

from . import docs_views, views
from .models import LegalPage

app_name = "website"

urlpatterns = [
    path("pricing", views.pricing, name="pricing"),
    path("services", views.services_page, name="services"),
    path("terms", views.legal, {"slug": LegalPage.Slug.TERMS}, name="terms"),
    path("privacy-policy", views.legal, {"slug": LegalPage.Slug.PRIVACY}, name="privacy_policy"),
    path("refund-policy", views.legal, {"slug": LegalPage.Slug.REFUND}, name="refund_policy"),
    path("docs/", docs_views.docs_index, name="docs"),
    path("docs/search", docs_views.docs_search, name="docs_search"),
    path("docs/<slug:slug>/", docs_views.docs_page, name="docs_page"),
]
