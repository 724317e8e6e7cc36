from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from cursive.admin_base import ReadOnlyAdmin
from cursive.errors import ApplicationError

from .models import BillingProfile, CreditAccount, CreditPackage, CreditPurchase, CreditTransaction, LocalCheckoutSession
from .services import credit_purchases_mark_reviewed, credits_adjust


class AdjustForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, help_text="Positive adds credits, negative takes them away.")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text="Required. Kept with the ledger row and in the audit log."
    )


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = [
        "workspace",
        "balance",
        "low_balance_threshold",
        "auto_reload_enabled",
        "needs_review",
        "updated_at",
        "adjust_link",
    ]
    list_filter = ["needs_review", "auto_reload_enabled"]
    search_fields = ["workspace__name"]
    # The owners set the threshold and auto-reload on their credits page, where each change is checked.
    readonly_fields = [
        "workspace",
        "balance",
        "low_balance_threshold",
        "low_balance_threshold_custom",
        "auto_reload_enabled",
        "auto_reload_package",
        "auto_reload_attempted_at",
        "auto_reload_failure",
        "updated_at",
    ]
    fields = [
        "workspace",
        "balance",
        "low_balance_threshold",
        "low_balance_threshold_custom",
        "auto_reload_enabled",
        "auto_reload_package",
        "auto_reload_attempted_at",
        "auto_reload_failure",
        "needs_review",
        "review_note",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="")
    def adjust_link(self, account):
        return format_html(
            '<a class="button" href="{}">Adjust credits</a>', reverse("admin:credits_creditaccount_adjust", args=[account.pk])
        )

    def get_urls(self):
        return [
            path("<int:account_id>/adjust/", self.admin_site.admin_view(self.adjust_view), name="credits_creditaccount_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request, account_id: int):
        account = get_object_or_404(CreditAccount.objects.select_related("workspace"), pk=account_id)
        form = AdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = credits_adjust(workspace=account.workspace, actor=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"Adjusted {account.workspace} by {entry.amount}; balance is now {entry.balance_after}.",
                    messages.SUCCESS,
                )
                return redirect("admin:credits_creditaccount_changelist")
        return render(
            request,
            "admin/credits/adjust.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Adjust credits: {account.workspace}",
                "account": account,
                "form": form,
                "opts": self.model._meta,
            },
        )


@admin.register(CreditTransaction)
class CreditTransactionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "kind", "amount", "balance_after", "reference", "actor"]
    list_filter = ["kind", "created_at"]
    search_fields = ["reference", "account__workspace__name", "reason"]
    list_select_related = ["account__workspace", "actor"]
    show_full_result_count = False


@admin.register(CreditPackage)
class CreditPackageAdmin(admin.ModelAdmin):
    list_display = ["label", "credits", "price_cents", "cents_per_credit", "popular", "active", "position"]
    list_editable = ["popular", "active", "position"]
    list_filter = ["active", "popular"]
    search_fields = ["label"]


@admin.register(CreditPurchase)
class CreditPurchaseAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "workspace",
        "package",
        "credits",
        "price_cents",
        "paid_cents",
        "status",
        "origin",
        "needs_review",
        "created_at",
        "completed_at",
    ]
    list_filter = ["needs_review", "status", "origin", "package"]
    search_fields = ["workspace__name", "checkout_session_id", "payment_intent_id"]
    list_select_related = ["workspace", "package"]
    actions = ["mark_reviewed"]

    @admin.action(description="Mark the selected purchases as reviewed (their note stays)")
    def mark_reviewed(self, request, queryset):
        count = credit_purchases_mark_reviewed(purchase_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        self.message_user(request, f"{count} purchase(s) marked as reviewed.", messages.SUCCESS)


@admin.register(LocalCheckoutSession)
class LocalCheckoutSessionAdmin(ReadOnlyAdmin):
    list_display = ["session_id", "description", "amount_total", "created_at", "expires_at"]
    search_fields = ["session_id", "client_reference_id"]


@admin.register(BillingProfile)
class BillingProfileAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "stripe_customer_id", "card_brand", "card_last4", "card_saved_at"]
    search_fields = ["workspace__name", "stripe_customer_id"]
    list_select_related = ["workspace"]
