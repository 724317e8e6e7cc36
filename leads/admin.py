from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from cursive.admin_base import ReadOnlyAdmin
from cursive.errors import ApplicationError

from .duplicates import duplicate_pair_dismiss, duplicate_pair_merge
from .models import Company, DuplicatePair, IdealCustomerProfile, Lead, LeadTagTally, LeadTally, Person, PersonTitle, Suppression
from .selectors import duplicate_cards


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


@admin.register(PersonTitle)
class PersonTitleAdmin(ReadOnlyAdmin):
    """The job titles of the lead database that title-words searches look up; PostgreSQL keeps the list."""

    list_display = ["title"]
    search_fields = ["title"]
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


@admin.register(DuplicatePair)
class DuplicatePairAdmin(admin.ModelAdmin):
    """Possible duplicates, side by side: the lead database's (and, with ?kind=lead, every workspace's), most alike
    first, each to merge (keeping the chosen record) or dismiss."""

    PAGE = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("<int:pair_id>/merge/", self.admin_site.admin_view(self.merge_view), name="leads_duplicatepair_merge"),
            path(
                "<int:pair_id>/dismiss/",
                self.admin_site.admin_view(require_POST(self.dismiss_view)),
                name="leads_duplicatepair_dismiss",
            ),
            *super().get_urls(),
        ]

    def _kind(self, request) -> str:
        kind = request.GET.get("kind", DuplicatePair.Kind.PERSON)
        return kind if kind in DuplicatePair.Kind.values else DuplicatePair.Kind.PERSON

    def _cards(self, pairs):
        pairs = list(pairs)
        by_kind = {DuplicatePair.Kind.PERSON: Person, DuplicatePair.Kind.LEAD: Lead}
        records = {}
        for kind, model in by_kind.items():
            ids = {pk for pair in pairs if pair.kind == kind for pk in (pair.low_id, pair.high_id)}
            if ids:
                records.update({(kind, pk): row for pk, row in model.objects.in_bulk(ids).items()})
        cards = []
        for pair in pairs:
            cards += duplicate_cards([pair], {pk: records.get((pair.kind, pk)) for pk in (pair.low_id, pair.high_id)})
        return cards

    def changelist_view(self, request, extra_context=None):
        kind = self._kind(request)
        pairs = DuplicatePair.objects.filter(kind=kind, status=DuplicatePair.Status.OPEN).select_related("workspace")
        return render(
            request,
            "admin/leads/duplicates.html",
            {
                **self.admin_site.each_context(request),
                "title": "Possible duplicates",
                "opts": self.model._meta,
                "kind": kind,
                "kinds": DuplicatePair.Kind.choices,
                "open_count": pairs.count(),
                "cards": self._cards(pairs.order_by("-score", "id")[: self.PAGE]),
            },
        )

    def merge_view(self, request, pair_id: int):
        pair = get_object_or_404(DuplicatePair, pk=pair_id, status=DuplicatePair.Status.OPEN)
        cards = self._cards([pair])
        keep = request.POST.get("keep_id") or request.GET.get("keep")
        if not cards or str(keep) not in (str(pair.low_id), str(pair.high_id)):
            self.message_user(request, "Choose one of the pair's two records to keep.", messages.ERROR)
            return redirect(f"{_changelist_url()}?kind={pair.kind}")
        if request.method == "POST":
            try:
                kept = duplicate_pair_merge(pair_id=pair.pk, keep_id=keep, actor=request.user, workspace=pair.workspace)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"Merged into #{kept.pk} ({kept}).", messages.SUCCESS)
            return redirect(f"{_changelist_url()}?kind={pair.kind}")
        card = cards[0]
        merged = card.right if str(card.left.pk) == str(keep) else card.left
        return render(
            request,
            "admin/leads/duplicate_merge.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Merge #{merged.pk} into #{keep}",
                "opts": self.model._meta,
                "card": card,
                "keep": int(keep),
                "merged": merged,
            },
        )

    def dismiss_view(self, request, pair_id: int):
        pair = get_object_or_404(DuplicatePair, pk=pair_id)
        try:
            duplicate_pair_dismiss(pair_id=pair.pk, actor=request.user, workspace=pair.workspace)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"Pair #{pair.pk} dismissed: it will not be proposed again.", messages.SUCCESS)
        return redirect(f"{_changelist_url()}?kind={pair.kind}")


def _changelist_url() -> str:
    return reverse("admin:leads_duplicatepair_changelist")


@admin.register(LeadTally)
class LeadTallyAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "leads"]
    search_fields = ["workspace__name"]
    list_select_related = ["workspace"]


@admin.register(LeadTagTally)
class LeadTagTallyAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "tag", "leads"]
    search_fields = ["tag", "workspace__name"]
    list_select_related = ["workspace"]
