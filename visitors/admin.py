import io

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path

from cursive.admin_base import ReadOnlyAdmin
from cursive.errors import ApplicationError

from .models import IpRange, Pixel, Visitor, VisitorEnrichment
from .services import IP_RANGE_COLUMNS, ip_ranges_import


@admin.register(Pixel)
class PixelAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "workspace", "status", "auto_enrich", "last_event_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "domain", "site_key", "workspace__name"]
    readonly_fields = ["site_key", "last_event_at", "created_at"]
    list_select_related = ["workspace"]


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["key", "pixel", "last_seen", "pageviews", "engaged_seconds", "company_name", "email", "identified_by"]
    list_filter = ["identified_by"]
    search_fields = ["key", "email", "company_name"]
    raw_id_fields = ["pixel", "lead", "person"]
    list_select_related = ["pixel"]
    readonly_fields = ["identified_at", "identification_lag_ms", "first_seen", "last_seen"]


@admin.register(VisitorEnrichment)
class VisitorEnrichmentAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "workspace", "person", "lead", "credits_charged"]
    search_fields = ["workspace__name", "person__email"]
    list_select_related = ["workspace", "person", "lead"]


class IpRangeImportForm(forms.Form):
    file = forms.FileField(help_text=f"A CSV with a header row: {', '.join(IP_RANGE_COLUMNS)}.")


@admin.register(IpRange)
class IpRangeAdmin(admin.ModelAdmin):
    list_display = ["network", "company_name", "company_domain", "kind", "imported_at"]
    list_filter = ["kind"]
    search_fields = ["company_name", "company_domain"]
    change_list_template = "admin/visitors/iprange/change_list.html"

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="visitors_iprange_import"),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:visitors_iprange_changelist")
        form = IpRangeImportForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.UPLOAD_MAX_BYTES:
                form.add_error("file", f"Upload at most {settings.UPLOAD_MAX_BYTES // 1024 // 1024} MB.")
            else:
                try:
                    result = ip_ranges_import(lines=io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline=""))
                except UnicodeDecodeError:
                    form.add_error("file", "The file is not UTF-8 text: save it as CSV UTF-8 and upload it again.")
                except ApplicationError as exc:
                    form.add_error("file", exc.message)
                else:
                    if not result.errors:
                        self.message_user(
                            request, f"Imported {result.created} new and {result.updated} updated IP ranges.", messages.SUCCESS
                        )
                        return redirect("admin:visitors_iprange_changelist")
                    errors = result.errors
        return render(
            request,
            "admin/visitors/iprange/import.html",
            {
                **self.admin_site.each_context(request),
                "title": "Import IP ranges",
                "form": form,
                "errors": errors[:50],
                "more_errors": max(0, len(errors) - 50),
                "columns": IP_RANGE_COLUMNS,
                "opts": self.model._meta,
            },
        )
