from django.contrib import admin

from cursive.admin_base import ReadOnlyAdmin

from .models import DailyCredits, DailyLeads


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
