from django.contrib import admin

from cursive.admin_base import ReadOnlyAdmin

from .models import Segment, SegmentRun, SegmentSettings


class RunInline(admin.TabularInline):
    model = SegmentRun
    extra = 0
    can_delete = False
    fields = ["created_at", "mode", "count", "requested", "pulled", "skipped_owned", "credits_charged", "actor"]
    readonly_fields = fields
    max_num = 0


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "status", "last_count", "last_run", "auto_pull_per_day", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "workspace__name"]
    list_select_related = ["workspace"]
    raw_id_fields = ["workspace", "created_by"]
    inlines = [RunInline]


@admin.register(SegmentRun)
class SegmentRunAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "segment", "mode", "count", "pulled", "skipped_owned", "credits_charged"]
    list_filter = ["mode"]
    search_fields = ["segment__name", "segment__workspace__name"]
    list_select_related = ["segment"]


@admin.register(SegmentSettings)
class SegmentSettingsAdmin(admin.ModelAdmin):
    list_display = ["workspace", "auto_pull_daily_credit_cap"]
    search_fields = ["workspace__name"]
    raw_id_fields = ["workspace"]
