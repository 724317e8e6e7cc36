from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect, render

from credits.selectors import credit_balance
from cursive.admin_base import ReadOnlyAdmin
from cursive.errors import ApplicationError

from .models import PartnerProfile, Payout, Upload, UploadDuplicate, UploadedLead, UploadError
from .services import payout_record, upload_approve, upload_reject


@admin.register(PartnerProfile)
class PartnerProfileAdmin(admin.ModelAdmin):
    list_display = ["company_name", "workspace", "status", "trusted", "revenue_share_percent", "created_at"]
    list_editable = ["status", "trusted", "revenue_share_percent"]
    list_filter = ["status", "trusted"]
    search_fields = ["company_name", "workspace__name"]
    raw_id_fields = ["workspace"]


class ErrorInline(admin.TabularInline):
    model = UploadError
    extra = 0
    can_delete = False
    fields = ["row", "line", "field", "message"]
    readonly_fields = fields
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("row", "id")


class DuplicateInline(admin.TabularInline):
    model = UploadDuplicate
    extra = 0
    can_delete = False
    fields = ["row", "line", "original_line"]
    readonly_fields = fields
    max_num = 0


class ReviewForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        required=False,
        help_text="Shown to the partner. Required when rejecting.",
    )


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "original_name",
        "workspace",
        "status",
        "total_rows",
        "valid_rows",
        "duplicate_rows",
        "invalid_rows",
        "listed_rows",
        "price_per_lead",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["original_name", "workspace__name"]
    list_select_related = ["workspace"]
    readonly_fields = [f.name for f in Upload._meta.fields]
    inlines = [ErrorInline, DuplicateInline]
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    def _review(self, request, queryset, *, verb: str, done: str, service):
        if "apply" in request.POST:
            form = ReviewForm(request.POST)
            if form.is_valid():
                count, failed = 0, []
                for upload_id in queryset.values_list("pk", flat=True):
                    try:
                        service(upload_id=upload_id, actor=request.user, note=form.cleaned_data["note"])
                        count += 1
                    except ApplicationError as exc:
                        failed.append(f"#{upload_id}: {exc.message}")
                self.message_user(request, f"{count} upload(s) {done}.", messages.SUCCESS)
                for problem in failed:
                    self.message_user(request, problem, messages.WARNING)
                return redirect(request.get_full_path())
        else:
            form = ReviewForm()
        return render(
            request,
            "admin/partners/review.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{verb.capitalize()} uploads",
                "uploads": queryset,
                "form": form,
                "action": request.POST.get("action"),
                "opts": self.model._meta,
                "verb": verb,
            },
        )

    @admin.action(description="Approve and list the selected uploads")
    def approve(self, request, queryset):
        return self._review(request, queryset, verb="approve", done="approved", service=upload_approve)

    @admin.action(description="Reject the selected uploads (with a note to the partner)")
    def reject(self, request, queryset):
        return self._review(request, queryset, verb="reject", done="rejected", service=upload_reject)


@admin.register(UploadedLead)
class UploadedLeadAdmin(ReadOnlyAdmin):
    list_display = ["upload", "row", "email", "company_name", "quality"]
    search_fields = ["email", "company_name"]
    show_full_result_count = False


@admin.register(UploadError)
class UploadErrorAdmin(ReadOnlyAdmin):
    list_display = ["upload", "row", "line", "field", "message"]
    list_filter = ["field"]
    search_fields = ["message"]
    show_full_result_count = False


@admin.register(UploadDuplicate)
class UploadDuplicateAdmin(ReadOnlyAdmin):
    list_display = ["upload", "row", "line", "original_line"]
    search_fields = ["upload__original_name"]
    show_full_result_count = False


class PayoutForm(forms.ModelForm):
    class Meta:
        model = Payout
        fields = ["workspace", "credits", "amount_cents", "method", "external_reference", "note"]

    def clean(self):
        cleaned = super().clean()
        workspace, credits = cleaned.get("workspace"), cleaned.get("credits")
        if workspace and credits:
            balance = credit_balance(workspace=workspace)
            if credits > balance:
                raise forms.ValidationError(f"{workspace} has {balance} credits; a payout cannot take more.")
        return cleaned


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    form = PayoutForm
    list_display = ["id", "workspace", "credits", "amount_cents", "method", "external_reference", "created_by", "created_at"]
    search_fields = ["workspace__name", "external_reference"]
    raw_id_fields = ["workspace"]

    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so the ledger row is written in the same transaction.
        data = form.cleaned_data
        try:
            payout = payout_record(
                workspace=data["workspace"],
                credits=data["credits"],
                amount_cents=data["amount_cents"],
                actor=request.user,
                method=data["method"],
                external_reference=data["external_reference"],
                note=data["note"],
            )
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc
        obj.pk = payout.pk
