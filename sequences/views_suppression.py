"""Sequences -> Suppression list: the addresses this workspace never emails (unsubscribed, bounced, added by hand
or imported). Entries of erased people belong to no workspace: they are never listed here nor removable."""

from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from cursive.errors import ApplicationError
from cursive.htmx import meaningful_query, push_url
from cursive.pagination import keyset_paginate
from leads import normalize
from leads.export import csv_download, queryset_csv
from leads.models import Suppression
from leads.selectors import suppressions_list
from leads.services import suppression_remove, suppressions_add

PAGE_SIZE = 50
ORDERING = ("-created_at", "-id")
MAX_TYPED = 1000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
EXPORT_FIELDS = ("email", "reason", "detail", "created_at")


@workspace_required
@require_GET
@vary_on_headers("HX-Request")
def suppression_list(request):
    query = (request.GET.get("q") or "").strip()
    rows = suppressions_list(workspace=request.workspace, query=query)
    try:
        page = keyset_paginate(rows, ordering=ORDERING, cursor=request.GET.get("cursor"), page_size=PAGE_SIZE)
    except ApplicationError:
        return redirect("sequences:suppression_list")
    context = {"page": page, "q": query, "query": meaningful_query(request.GET, drop=("cursor",)).urlencode()}
    if request.htmx and request.GET.get("cursor"):
        return render(request, "sequences/suppression.html#rows", context)
    context["has_any"] = bool(page.results) or suppressions_list(workspace=request.workspace).exists()
    if request.htmx and request.htmx.target == "suppression-results":
        response = render(request, "sequences/suppression.html#results", context)
        return push_url(response, reverse("sequences:suppression_list"), context["query"])
    return render(request, "sequences/suppression.html", context)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").replace(";", "\n").splitlines() if line.strip()]


@workspace_required
@require_POST
def suppression_add(request):
    """Addresses typed in by hand, one per line (commas work too). Nothing is added while one is wrong: the
    form comes back with the text, naming the bad ones, so they can be fixed in place."""
    emails = _lines(request.POST.get("emails", ""))
    if not emails:
        messages.error(request, "Type at least one address, one per line.")
        return redirect("sequences:suppression_list")
    if len(emails) > MAX_TYPED:
        messages.error(request, f"Add at most {MAX_TYPED:,} addresses at once by hand; import a CSV for more.")
        return redirect("sequences:suppression_list")
    try:
        added = suppressions_add(workspace=request.workspace, emails=emails, reason=Suppression.Reason.MANUAL)
    except ApplicationError as exc:
        page = keyset_paginate(
            suppressions_list(workspace=request.workspace), ordering=ORDERING, cursor=None, page_size=PAGE_SIZE
        )
        context = {"page": page, "q": "", "query": "", "has_any": bool(page.results), "typed": request.POST.get("emails", "")}
        context["add_errors"] = exc.fields.get("emails") or [exc.message]
        return render(request, "sequences/suppression.html", context, status=400)
    messages.success(request, _added_message(added, len(set(map(normalize.normalize_email, emails)))))
    return redirect("sequences:suppression_list")


def _added_message(added: int, given: int) -> str:
    already = given - added
    text = f"{added:,} address{'es' if added != 1 else ''} added to the suppression list."
    return text + (f" {already:,} {'was' if already == 1 else 'were'} already on it." if already > 0 else "")


def _csv_addresses(upload) -> tuple[list[str], int]:
    """The addresses of an uploaded CSV: the column named `email` (any case), else the first column, whose
    first row is skipped when it is not an address (a header). Returns them and how many rows were skipped as
    not addresses."""
    text = io.TextIOWrapper(upload.file, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    first = next(reader, None)
    if first is None:
        return [], 0
    headers = [cell.strip().lower() for cell in first]
    if "email" in headers:
        column, rows = headers.index("email"), []
    else:
        column = 0
        rows = [first] if first and normalize.is_valid_email(normalize.normalize_email(first[0])) else []
    emails, skipped = [], 0
    for row in _chain(rows, reader):
        value = normalize.normalize_email(row[column]) if len(row) > column else ""
        if normalize.is_valid_email(value):
            emails.append(value)
        elif value:
            skipped += 1
    return emails, skipped


def _chain(first_rows, reader):
    yield from first_rows
    for count, row in enumerate(reader, start=1):
        if count > MAX_IMPORT_ROWS:
            raise ValueError(f"Import at most {MAX_IMPORT_ROWS:,} rows at once.")
        yield row


@workspace_required
@require_POST
def suppression_import(request):
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a CSV file to import.")
        return redirect("sequences:suppression_list")
    if upload.size > MAX_IMPORT_BYTES:
        messages.error(request, f"The file is {upload.size / 1024 / 1024:.1f} MB; import at most 5 MB at once.")
        return redirect("sequences:suppression_list")
    try:
        emails, skipped = _csv_addresses(upload)
    except (ValueError, csv.Error) as exc:
        messages.error(request, f"That file could not be read as a CSV: {exc}")
        return redirect("sequences:suppression_list")
    if not emails:
        messages.error(request, "No email address found: use a column named “email”, or put the addresses in the first column.")
        return redirect("sequences:suppression_list")
    added = suppressions_add(
        workspace=request.workspace, emails=emails, reason=Suppression.Reason.IMPORTED, detail=upload.name[:200]
    )
    note = f" {skipped:,} row{'s' if skipped != 1 else ''} without a valid address skipped." if skipped else ""
    messages.success(request, _added_message(added, len(set(emails))) + note)
    return redirect("sequences:suppression_list")


@workspace_required
@require_GET
def suppression_export(request):
    rows = suppressions_list(workspace=request.workspace).order_by(*ORDERING)
    return csv_download(queryset_csv(rows, EXPORT_FIELDS), "cursive-suppression-list.csv")


@workspace_required
@require_POST
def suppression_delete(request, suppression_id: int):
    entry = suppressions_list(workspace=request.workspace).filter(pk=suppression_id).first()
    if entry is None:
        raise Http404("No such suppressed address.")
    suppression_remove(workspace=request.workspace, suppression_id=suppression_id)
    messages.success(request, f"{entry.email} removed: your sequences may email it again.")
    return redirect("sequences:suppression_list")
