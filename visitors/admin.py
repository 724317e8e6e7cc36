from django.contrib import admin

from .models import Pixel, Visitor


@admin.register(Pixel)
class PixelAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "workspace", "status", "last_event_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "domain", "site_key"]
    readonly_fields = ["site_key", "last_event_at", "created_at"]


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["key", "pixel", "last_seen", "pageviews", "engaged_seconds", "identified_by"]
    list_filter = ["identified_by"]
    search_fields = ["key", "email", "company_name"]
    raw_id_fields = ["pixel", "lead"]
