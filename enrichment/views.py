from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from credits.selectors import credit_balance
from cursive.errors import ApplicationError
from cursive.forms import apply_error
from cursive.pagination import keyset_paginate
from cursive.views import or_404
from leads import drafts
from leads.csv_import import FileRejected, mapping_page_context, suggest_mapping

from . import selectors, services
from .forms import EnrichmentConfirmForm, EnrichmentMappingForm, EnrichmentStartForm
from .models import Enrichment

DRAFT_KIND = "enrichment"


@workspace_required
def enrichment_list(request):
    try:
        page = keyset_paginate(
            selectors.enrichments_list(workspace=request.workspace),
            ordering=("-created_at", "-id"),
            cursor=request.GET.get("cursor"),
            page_size=25,
        )
    except ApplicationError:
        return redirect("enrichment:list")
    return render(request, "enrichment/list.html", {"page": page, "price_per_row": settings.ENRICHMENT_PRICE_PER_ROW})


@workspace_required
def enrichment_start(request):
    form = EnrichmentStartForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            token = drafts.draft_start(
                request.session, kind=DRAFT_KIND, workspace_id=request.workspace.pk, incoming=form.cleaned_data["file"]
            )
        except FileRejected as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("enrichment:mapping", token=token)
    return render(
        request,
        "enrichment/start.html",
        {"form": form, "max_mb": settings.UPLOAD_MAX_BYTES // 1_048_576, "max_bytes": settings.UPLOAD_MAX_BYTES},
    )


@workspace_required
def enrichment_mapping(request, token: str):
    try:
        draft = drafts.draft_get(request.session, kind=DRAFT_KIND, workspace_id=request.workspace.pk, token=token)
    except drafts.DraftExpired as exc:
        messages.warning(request, str(exc))
        return redirect("enrichment:start")
    source = drafts.draft_file(draft)
    fmt = drafts.draft_format(draft)
    form = EnrichmentMappingForm(request.POST or None, headers=fmt.header, suggested=suggest_mapping(fmt.header))
    if request.method == "POST" and form.is_valid():
        try:
            enrichment = drafts.draft_submit(
                request.session,
                kind=DRAFT_KIND,
                token=token,
                draft=draft,
                create=lambda file: services.enrichment_create(
                    workspace=request.workspace, file=file, mapping=form.mapping(), created_by=request.user
                ),
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"“{enrichment.original_name}” is being matched. The preview is free.")
            return redirect("enrichment:detail", enrichment_id=enrichment.pk)
    return render(
        request,
        "enrichment/mapping.html",
        {
            "form": form,
            "draft": draft,
            **mapping_page_context(source, fmt, form),
        },
    )


def _enrichment(request, enrichment_id) -> Enrichment:
    return or_404(selectors.enrichment_get, workspace=request.workspace, enrichment_id=enrichment_id)


def _detail(request, enrichment: Enrichment, *, form: EnrichmentConfirmForm):
    context = {"enrichment": enrichment, "form": form}
    if enrichment.status == Enrichment.Status.AWAITING_CONFIRMATION:
        balance = credit_balance(workspace=request.workspace)
        context.update(
            preview=selectors.enrichment_preview(enrichment=enrichment),
            balance=balance,
            missing=max(enrichment.credits_quote - balance, 0),
            unmatched_rows=max(enrichment.total_rows - enrichment.matched_rows - enrichment.unusable_rows, 0),
        )
    return render(request, "enrichment/detail.html#report" if request.htmx else "enrichment/detail.html", context)


@workspace_required
@vary_on_headers("HX-Request")
def enrichment_detail(request, enrichment_id: int):
    return _detail(request, _enrichment(request, enrichment_id), form=EnrichmentConfirmForm())


@workspace_required
@require_POST
def enrichment_confirm(request, enrichment_id: int):
    enrichment = _enrichment(request, enrichment_id)
    form = EnrichmentConfirmForm(request.POST)
    was_confirmed = enrichment.status in (Enrichment.Status.PROCESSING, Enrichment.Status.COMPLETE)
    if form.is_valid():
        try:
            enrichment = services.enrichment_confirm(
                workspace=request.workspace,
                enrichment_id=enrichment.pk,
                max_credits=form.cleaned_data["max_credits"],
                actor=request.user,
            )
        except ApplicationError as exc:
            enrichment.refresh_from_db()
            if enrichment.status != Enrichment.Status.AWAITING_CONFIRMATION:
                # Confirmed or cancelled meanwhile (another tab, a resent form): the page shows where it stands.
                messages.info(request, exc.message)
                return redirect("enrichment:detail", enrichment_id=enrichment.pk)
            apply_error(form, exc)
        else:
            if was_confirmed:
                messages.info(request, "This enrichment was already confirmed; nothing more was charged.")
            else:
                messages.success(
                    request,
                    f"Confirmed: {enrichment.enriched_rows:,} new lead{'s' if enrichment.enriched_rows != 1 else ''} "
                    f"for {enrichment.credits_charged:,.2f} credits. The enriched file is being written.",
                )
            return redirect("enrichment:detail", enrichment_id=enrichment.pk)
    return _detail(request, enrichment, form=form)


@workspace_required
@require_POST
def enrichment_cancel(request, enrichment_id: int):
    enrichment = _enrichment(request, enrichment_id)
    try:
        services.enrichment_cancel(workspace=request.workspace, enrichment_id=enrichment.pk, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Cancelled “{enrichment.original_name}”. Nothing was charged.")
    return redirect("enrichment:detail", enrichment_id=enrichment.pk)


@workspace_required
def enrichment_download(request, enrichment_id: int):
    enrichment = _enrichment(request, enrichment_id)
    try:
        chunks = selectors.enrichment_result_chunks(enrichment=enrichment)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("enrichment:detail", enrichment_id=enrichment.pk)
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{Path(enrichment.original_name).stem or 'list'}-enriched.csv"
    )
    return response
