from django.contrib import admin

from cursive.admin_base import ReadOnlyAdmin

from .models import Company, IdealCustomerProfile, Lead, Person, Suppression


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "company_name", "workspace", "source", "status", "score", "created_at"]
    list_filter = ["source", "status", "email_status", "seniority", "company_size"]
    search_fields = ["email", "first_name", "last_name", "company_name", "workspace__name"]
    list_select_related = ["workspace"]
    readonly_fields = ["dedup_hash", "created_at", "updated_at"]
    show_full_result_count = False


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "industry", "size", "state"]
    list_filter = ["size", "industry"]
    search_fields = ["name", "domain"]
    show_full_result_count = False


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "title", "company_name", "industry", "state", "score"]
    list_filter = ["seniority", "company_size", "has_phone", "has_linkedin", "email_verified"]
    search_fields = ["email", "last_name", "company_name"]
    raw_id_fields = ["company"]
    readonly_fields = ["dedup_hash"]
    show_full_result_count = False


@admin.register(IdealCustomerProfile)
class IdealCustomerProfileAdmin(admin.ModelAdmin):
    list_display = ["workspace", "company_sizes", "industries", "updated_at"]
    search_fields = ["workspace__name"]
    raw_id_fields = ["workspace"]


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    """Entries come from unsubscribes, bounces, workspaces' own lists and erasure; a workspace removes its own."""

    list_display = ["__str__", "workspace", "reason", "detail", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email", "email_hash", "workspace__name"]
    list_select_related = ["workspace"]
