from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from cursive.admin_base import ReadOnlyAdmin
from cursive.errors import ApplicationError
from leads.admin import PersonAdmin
from leads.models import Person

from .models import ErasureRefund, OptOutRequest
from .services import erase_person


@admin.register(OptOutRequest)
class OptOutRequestAdmin(ReadOnlyAdmin):
    """Requests from the public opt-out page; the address is kept only until the request is done or expires."""

    list_display = ["id", "kind", "status", "hash_prefix", "created_at", "confirmed_at", "completed_at"]
    list_filter = ["kind", "status"]
    search_fields = ["email_hash"]
    exclude = ["email"]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in super().get_readonly_fields(request, obj) if name != "email"]

    @admin.display(description="Address hash")
    def hash_prefix(self, obj):
        return f"{obj.email_hash[:12]}…"


@admin.register(ErasureRefund)
class ErasureRefundAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "acquired_reference", "credits", "created_at"]
    list_select_related = ["workspace"]
    search_fields = ["acquired_reference", "workspace__name"]


admin.site.unregister(Person)


@admin.register(Person)
class PersonWithErasureAdmin(PersonAdmin):
    """The lead database's people, with erasure for staff (after a confirmation page, as deleting has)."""

    actions = ["erase"]

    @admin.action(description="Erase the selected people everywhere (privacy request)")
    def erase(self, request, queryset):
        people = list(queryset.order_by("pk"))
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/privacy/erase_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase these people?",
                    "opts": self.model._meta,
                    "people": people,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        reason = (request.POST.get("reason") or "").strip() or "Erased by staff from the admin"
        erased = 0
        for person in people:
            if not person.email:
                self.message_user(
                    request, f"#{person.pk} has no email address; erase them by the address they use.", messages.ERROR
                )
                continue
            try:
                erase_person(email=person.email, actor=request.user, reason=reason)
            except ApplicationError as exc:
                self.message_user(request, f"#{person.pk}: {exc.message}", messages.ERROR)
            else:
                erased += 1
        if erased:
            self.message_user(request, f"{erased} {'person' if erased == 1 else 'people'} erased everywhere.", messages.SUCCESS)
        return None
