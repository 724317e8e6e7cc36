from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from cursive.errors import ApplicationError

from . import selectors, services
from .models import ContactRequest, Experiment, LegalPage, Variant


@admin.register(ContactRequest)
class ContactRequestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "name", "email", "company", "tier", "status"]
    list_filter = ["status", "tier"]
    search_fields = ["name", "email", "company", "message"]
    # What a person wrote is never edited: staff read it, answer by email and mark it handled with the action.
    readonly_fields = [field.name for field in ContactRequest._meta.fields]
    actions = ["mark_handled"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Mark the selected requests handled")
    def mark_handled(self, request, queryset):
        count = services.contact_requests_mark_handled(
            contact_request_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
        self.message_user(request, f"{count} request(s) marked handled.", messages.SUCCESS)


@admin.register(LegalPage)
class LegalPageAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "updated_at", "updated_by"]
    fields = ["slug", "title", "body", "updated_at", "updated_by"]
    readonly_fields = ["updated_at", "updated_by"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "slug"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.legal_page_update(page=obj, title=obj.title, body=obj.body, actor=request.user)


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 2
    fields = ["name", "headline", "subheadline"]

    def _editable(self, obj) -> bool:
        return obj is None or obj.status == Experiment.Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """Headline tests of the home page: variants are edited while the test is a draft; the results and the
    start and end buttons are above the form."""

    list_display = ["name", "status", "started_at", "ended_at", "winner"]
    list_filter = ["status"]
    fields = ["name", "status", "started_at", "ended_at", "winner"]
    readonly_fields = ["status", "started_at", "ended_at", "winner"]
    inlines = [VariantInline]
    change_form_template = "admin/website/experiment/change_form.html"

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.status == Experiment.Status.DRAFT

    def get_urls(self):
        return [
            path("<int:experiment_id>/start/", self.admin_site.admin_view(self.start_view), name="website_experiment_start"),
            path(
                "<int:experiment_id>/end/<int:variant_id>/",
                self.admin_site.admin_view(self.end_view),
                name="website_experiment_end",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        experiment = self.get_object(request, object_id)
        extra = {"results": selectors.experiment_results(experiment=experiment)} if experiment else {}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _back(self, experiment_id: int):
        return redirect(reverse("admin:website_experiment_change", args=[experiment_id]))

    def _perform(self, request, experiment_id: int, service, success: str, **kwargs):
        if not self.has_change_permission(request, get_object_or_404(Experiment, pk=experiment_id)):
            return redirect("admin:index")
        try:
            service(experiment_id=experiment_id, actor=request.user, **kwargs)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, success, messages.SUCCESS)
        return self._back(experiment_id)

    @method_decorator(require_POST)
    def start_view(self, request, experiment_id: int):
        return self._perform(
            request, experiment_id, services.experiment_start, "The test is running: new visitors get a variant at random."
        )

    @method_decorator(require_POST)
    def end_view(self, request, experiment_id: int, variant_id: int):
        return self._perform(
            request,
            experiment_id,
            services.experiment_end,
            "The test is over: everyone sees the winner now.",
            winner_id=variant_id,
        )
