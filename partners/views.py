from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from accounts.models import Workspace
from credits.selectors import credit_balance
from cursive.errors import ApplicationError
from cursive.forms import apply_error
from cursive.pagination import keyset_paginate
from cursive.views import or_404
from leads import drafts
from leads.csv_import import FileRejected, Source, mapping_page_context, suggest_mapping
from leads.export import csv_download, csv_rows

from . import selectors, services
from .forms import MappingForm, UploadStartForm
from .models import Upload

partner_page = workspace_required(kind=Workspace.Kind.PARTNER)
DRAFT_KIND = "partner_upload"
ERRORS_ON_PAGE = 100


@partner_page
def dashboard(request):
    profile = services.partner_profile_ensure(workspace=request.workspace)
    uploads = selectors.workspace_uploads(workspace=request.workspace).order_by("-created_at", "-id")[:20]
    return render(
        request,
        "partners/dashboard.html",
        {
            "profile": profile,
            "summary": selectors.partner_summary(workspace=request.workspace),
            "uploads": uploads,
            "balance": credit_balance(workspace=request.workspace),
            "sales": selectors.partner_sales(workspace=request.workspace)[:10],
        },
    )


@partner_page
def upload_start(request):
    form = UploadStartForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            token = drafts.draft_start(
                request.session,
                kind=DRAFT_KIND,
                workspace_id=request.workspace.pk,
                incoming=form.cleaned_data["file"],
                price=str(form.cleaned_data["price_per_lead"]),
            )
        except FileRejected as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("partners:upload_mapping", token=token)
    return render(
        request,
        "partners/upload_start.html",
        {"form": form, "max_mb": settings.UPLOAD_MAX_BYTES // 1_048_576, "max_bytes": settings.UPLOAD_MAX_BYTES},
    )


def _preview(source: Source, fmt, form: MappingForm, suggested: dict[str, str]) -> dict:
    """The verdicts of the file's first rows for the mapping on the form (the suggested one before it is sent),
    or nothing while the mapping cannot make a lead (the form says why)."""
    if form.is_bound:
        form.is_valid()
        if form.non_field_errors():
            return {}
        mapping = form.mapping()
    else:
        mapping = suggested
        try:
            form.required_fields_check(set(mapping.values()))
        except ValidationError:
            return {}
    verdicts, stopped = services.upload_preview(source=source, fmt=fmt, mapping=mapping)
    return {"verdicts": verdicts, "verdict_counts": Counter(verdict.outcome for verdict in verdicts), "preview_stopped": stopped}


@partner_page
@vary_on_headers("HX-Request")
def upload_mapping(request, token: str):
    try:
        draft = drafts.draft_get(request.session, kind=DRAFT_KIND, workspace_id=request.workspace.pk, token=token)
    except drafts.DraftExpired as exc:
        messages.warning(request, str(exc))
        return redirect("partners:upload_start")
    source = drafts.draft_file(draft)
    fmt = drafts.draft_format(draft)
    suggested = suggest_mapping(fmt.header)
    form = MappingForm(request.POST or None, headers=fmt.header, suggested=suggested, initial={"price_per_lead": draft["price"]})
    if "preview" in request.POST:
        # The partner changed the mapping: the first rows' verdicts again, nothing submitted.
        context = {"form": form, "draft": draft, **_preview(source, fmt, form, suggested)}
        if request.htmx:
            return render(request, "partners/upload_mapping.html#verdicts", context)
        return render(request, "partners/upload_mapping.html", {**context, **mapping_page_context(source, fmt, form)})
    if request.method == "POST" and form.is_valid():
        try:
            upload = drafts.draft_submit(
                request.session,
                kind=DRAFT_KIND,
                token=token,
                draft=draft,
                create=lambda file: services.upload_create(
                    workspace=request.workspace,
                    file=file,
                    price_per_lead=form.cleaned_data["price_per_lead"],
                    mapping=form.mapping(),
                    created_by=request.user,
                ),
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"“{upload.original_name}” is being processed.")
            return redirect("partners:upload_detail", upload_id=upload.pk)
    return render(
        request,
        "partners/upload_mapping.html",
        {
            "form": form,
            "draft": draft,
            **mapping_page_context(source, fmt, form),
            **_preview(source, fmt, form, suggested),
        },
    )


def _upload(request, upload_id) -> Upload:
    return or_404(selectors.upload_get, workspace=request.workspace, upload_id=upload_id)


@partner_page
def upload_detail(request, upload_id: int):
    upload = _upload(request, upload_id)
    context = {
        "upload": upload,
        "errors": selectors.upload_errors(upload=upload)[:ERRORS_ON_PAGE],
        "error_count": selectors.upload_errors(upload=upload).count(),
        "duplicates": selectors.upload_duplicates(upload=upload)[:ERRORS_ON_PAGE],
        "errors_shown": ERRORS_ON_PAGE,
    }
    if request.htmx:
        return render(request, "partners/upload_detail.html#report", context)
    return render(request, "partners/upload_detail.html", context)


@partner_page
def upload_errors_csv(request, upload_id: int):
    upload = _upload(request, upload_id)
    skipped = selectors.upload_skipped_rows(upload=upload)
    return csv_download(csv_rows(skipped, fields=("line", "field", "problem")), f"upload-{upload.pk}-skipped-rows.csv")


@partner_page
def uploads(request):
    try:
        page = keyset_paginate(
            selectors.workspace_uploads(workspace=request.workspace),
            ordering=("-created_at", "-id"),
            cursor=request.GET.get("cursor"),
            page_size=25,
        )
    except ApplicationError:
        return redirect("partners:uploads")
    return render(request, "partners/uploads.html", {"page": page})


@partner_page
def earnings(request):
    try:
        page = keyset_paginate(
            selectors.partner_sales(workspace=request.workspace),
            ordering=("-purchase__completed_at", "-id"),
            cursor=request.GET.get("cursor"),
            page_size=50,
        )
    except ApplicationError:
        return redirect("partners:earnings")
    return render(
        request,
        "partners/earnings.html",
        {
            "page": page,
            "summary": selectors.partner_summary(workspace=request.workspace),
            "payouts": selectors.partner_payouts(workspace=request.workspace)[:50],
            "balance": credit_balance(workspace=request.workspace),
        },
    )


@partner_page
@require_POST
def profile_update(request):
    profile = services.partner_profile_ensure(workspace=request.workspace)
    services.partner_profile_update(
        profile_id=profile.pk,
        company_name=request.POST.get("company_name", ""),
        payout_details=request.POST.get("payout_details", ""),
    )
    messages.success(request, "Partner details saved.")
    return redirect("partners:dashboard")
