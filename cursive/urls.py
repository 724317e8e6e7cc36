from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cursive import health, views

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("leads.api_urls")),
    path("", include("credits.api_urls")),
    path("", include("marketplace.api_urls")),
    path("", include("partners.api_urls")),
    path("", include("segments.api_urls")),
    path("", include("visitors.api_urls")),
    path("", include("webhooks.api_urls")),
    path("", include("sequences.api_urls")),
    path("", include("enrichment.api_urls")),
    path("", include("analytics.api_urls")),
]

urlpatterns = [
    path("health", health.health, name="health"),
    # `/` is the public home for visitors and the dashboard for users: the website, the top layer, decides.
    path("", include("website.root_urls")),
    # Before admin/: the analytics URLs include the staff monitoring page under admin/monitoring/.
    path("", include("analytics.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Any other path under api/ is the API's JSON 404 (docs/api.md, Errors), with DEBUG on too (whose 404 page lists every URL).
    # CSRF-exempt like the API's views: a POST to an unknown API path is its JSON 404, not the CSRF failure page.
    re_path(r"^api/", csrf_exempt(views.page_not_found), name="api-not-found"),
    path("", include("accounts.urls")),
    path("leads/", include("leads.urls")),
    path("", include("credits.urls")),
    path("", include("payments.urls")),
    path("marketplace/", include("marketplace.urls")),
    path("partner/", include("partners.urls")),
    path("enrichment/", include("enrichment.urls")),
    path("", include("segments.urls")),
    path("", include("visitors.urls")),
    path("", include("webhooks.urls")),
    path("", include("sequences.urls")),
    path("", include("privacy.urls")),
    path("", include("website.urls")),
]

handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error
