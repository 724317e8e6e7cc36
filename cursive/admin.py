from django.contrib import admin, messages

from .admin_base import ReadOnlyAdmin
from .jobs import job_retry
from .models import AuditEvent, FailedJob, IdempotencyRecord, Job, OutboxEvent, RateLimitCounter, RequestStat, WorkerHeartbeat

admin.site.site_header = "Cursive staff"
admin.site.site_title = "Cursive staff"
admin.site.index_template = "admin/cursive_index.html"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at"]
    search_fields = ["name"]


@admin.register(RateLimitCounter)
class RateLimitCounterAdmin(admin.ModelAdmin):
    list_display = ["key", "window_start", "count"]
    search_fields = ["key"]
    list_filter = ["window_start"]


class JobAdminBase(admin.ModelAdmin):
    list_display = ["id", "func", "status", "attempts", "max_attempts", "last_error_short", "created_at", "updated_at"]
    list_filter = ["status", "func"]
    search_fields = ["func", "last_error"]
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["retry"]

    @admin.display(description="last error")
    def last_error_short(self, job):
        return job.last_error[:120]

    @admin.action(description="Retry the selected failed operations")
    def retry(self, request, queryset):
        retried = 0
        for job_id in queryset.filter(status=Job.Status.FAILED).values_list("pk", flat=True):
            job_retry(job_id=job_id)
            retried += 1
        self.message_user(request, f"{retried} operation(s) queued again.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(JobAdminBase):
    pass


@admin.register(FailedJob)
class FailedJobAdmin(JobAdminBase):
    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Job.Status.FAILED)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target", "workspace", "reason"]
    list_filter = ["action"]
    search_fields = ["target", "reason", "actor__email", "workspace__name"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["key", "workspace", "state", "status_code", "created_at"]
    list_filter = ["state"]
    search_fields = ["key", "workspace__name"]


@admin.register(RequestStat)
class RequestStatAdmin(ReadOnlyAdmin):
    list_display = ["hour", "method", "route", "status", "count", "total_ms", "max_ms"]
    list_filter = ["status", "method"]
    search_fields = ["route"]


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "type", "workspace", "public_id", "dispatched_at"]
    list_filter = ["type"]
    search_fields = ["public_id", "workspace__name"]
    list_select_related = ["workspace"]
