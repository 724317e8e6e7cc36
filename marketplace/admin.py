from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from cursive.admin_base import ReadOnlyAdmin
from cursive.errors import ApplicationError

from .models import LeadPurchase, LeadPurchaseItem, Listing
from .services import purchase_refund, purchases_mark_reviewed


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "__str__",
        "company_name",
        "industry",
        "state",
        "price",
        "quality",
        "status",
        "partner",
        "listed_at",
        "sold_at",
    ]
    list_filter = ["status", "industry", "company_size", "seniority", "has_phone", "has_linkedin"]
    search_fields = ["email", "last_name", "company_name", "dedup_hash"]
    list_select_related = ["partner"]
    readonly_fields = ["dedup_hash", "status", "reserved_by", "reserved_until", "buyer", "sold_at", "search"]
    raw_id_fields = ["partner"]
    show_full_result_count = False
    actions = ["withdraw"]

    @admin.action(description="Withdraw the selected available listings from the marketplace")
    def withdraw(self, request, queryset):
        count = queryset.filter(status=Listing.Status.AVAILABLE).update(status=Listing.Status.WITHDRAWN)
        self.message_user(request, f"{count} listing(s) withdrawn; sold and reserved ones were left alone.")


class ItemInline(admin.TabularInline):
    model = LeadPurchaseItem
    extra = 0
    can_delete = False
    fields = ["listing", "price", "partner", "partner_earning", "lead", "is_sale"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class RefundForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text="Required. Shown in the audit log.")
    return_to_market = forms.BooleanField(
        required=False, initial=True, label="Put the leads back on the marketplace (untick to withdraw them)"
    )


@admin.register(LeadPurchase)
class LeadPurchaseAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "workspace",
        "payment",
        "total_credits",
        "total_cents",
        "paid_cents",
        "status",
        "needs_review",
        "created_at",
        "completed_at",
        "refund_link",
    ]
    list_filter = ["needs_review", "status", "payment"]
    search_fields = ["workspace__name", "checkout_session_id", "payment_intent_id", "id"]
    list_select_related = ["workspace"]
    readonly_fields = [f.name for f in LeadPurchase._meta.fields]
    inlines = [ItemInline]
    actions = ["mark_reviewed"]

    @admin.action(description="Mark the selected purchases as reviewed (their note stays)")
    def mark_reviewed(self, request, queryset):
        count = purchases_mark_reviewed(purchase_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        self.message_user(request, f"{count} purchase(s) marked as reviewed.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="")
    def refund_link(self, purchase):
        if purchase.status != LeadPurchase.Status.COMPLETE:
            return ""
        if purchase.payment == LeadPurchase.Payment.CARD:
            return "Refund in Stripe"  # its charge.refunded event takes the sale back
        return format_html(
            '<a class="button" href="{}">Refund</a>', reverse("admin:marketplace_leadpurchase_refund", args=[purchase.pk])
        )

    def get_urls(self):
        return [
            path(
                "<int:purchase_id>/refund/", self.admin_site.admin_view(self.refund_view), name="marketplace_leadpurchase_refund"
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, purchase_id: int):
        purchase = get_object_or_404(LeadPurchase.objects.select_related("workspace"), pk=purchase_id)
        form = RefundForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                purchase_refund(purchase_id=purchase.pk, actor=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"Purchase #{purchase.pk} refunded: {purchase.total_credits} credits back to {purchase.workspace}.",
                    messages.SUCCESS,
                )
                return redirect("admin:marketplace_leadpurchase_changelist")
        return render(
            request,
            "admin/marketplace/refund.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Refund purchase #{purchase.pk}",
                "purchase": purchase,
                "form": form,
                "opts": self.model._meta,
            },
        )


@admin.register(LeadPurchaseItem)
class LeadPurchaseItemAdmin(ReadOnlyAdmin):
    """Which sale a listing went in, and what the partner earned on it."""

    list_display = ["id", "purchase", "listing", "price", "partner", "partner_earning", "is_sale"]
    list_filter = ["is_sale"]
    search_fields = ["=purchase__id", "=listing__id", "partner__name"]
    list_select_related = ["purchase", "listing", "partner"]
