from django.contrib import admin

from .models import RateLimitCounter, WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at"]
    search_fields = ["name"]


@admin.register(RateLimitCounter)
class RateLimitCounterAdmin(admin.ModelAdmin):
    list_display = ["key", "window_start", "count"]
    search_fields = ["key"]
    list_filter = ["window_start"]
