from django.contrib import admin

from cursive.admin_base import ReadOnlyAdmin

from .models import Enrichment


@admin.register(Enrichment)
class EnrichmentAdmin(ReadOnlyAdmin):
    """Staff read enrichments (counts, quote, charge, failures); every change goes through the services."""

    list_display = [
        "id",
        "original_name",
        "workspace",
        "status",
        "total_rows",
        "matched_rows",
        "already_owned_rows",
        "billable_rows",
        "credits_quote",
        "credits_charged",
        "created_at",
        "expires_at",
    ]
    list_filter = ["status"]
    search_fields = ["original_name", "workspace__name"]
    list_select_related = ["workspace"]
    date_hierarchy = "created_at"
    show_full_result_count = False
