from django.contrib import admin

from cursive.admin_base import ReadOnlyAdmin

from .models import Enrichment, EnrichmentRow


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


@admin.register(EnrichmentRow)
class EnrichmentRowAdmin(ReadOnlyAdmin):
    """How each row of a list matched (kept until the enrichment expires), to answer "why was this row charged"."""

    list_display = ["enrichment", "row", "method", "person", "confidence", "owned", "duplicate", "billable", "selected"]
    list_filter = ["method", "owned", "duplicate", "billable", "selected"]
    search_fields = ["=enrichment__id"]
    list_select_related = ["enrichment", "person"]
    show_full_result_count = False
