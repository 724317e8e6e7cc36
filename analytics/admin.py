from django.contrib import admin

from cursive.admin_base import ReadOnlyAdmin

from .models import DailyCredits, DailyLeads, DailyPixelPages


@admin.register(DailyCredits)
class DailyCreditsAdmin(ReadOnlyAdmin):
    list_display = ["day", "workspace", "spent", "added", "earned", "sales"]
    list_filter = ["day"]
    search_fields = ["workspace__name"]
    list_select_related = ["workspace"]


@admin.register(DailyLeads)
class DailyLeadsAdmin(ReadOnlyAdmin):
    list_display = ["day", "workspace", "source", "leads", "credits"]
    list_filter = ["source", "day"]
    search_fields = ["workspace__name"]
    list_select_related = ["workspace"]


@admin.register(DailyPixelPages)
class DailyPixelPagesAdmin(ReadOnlyAdmin):
    list_display = ["day", "pixel", "page", "events", "pageviews"]
    list_filter = ["day"]
    search_fields = ["page", "pixel__name", "pixel__domain"]
    list_select_related = ["pixel"]
