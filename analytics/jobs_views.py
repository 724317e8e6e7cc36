"""The staff Jobs page (linked from the admin index and the monitoring page): every background job of every
kind, filtered, paged, exported as CSV, and a failed one retried."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from cursive.errors import ApplicationError
from leads.export import csv_rows

from . import jobs, services

EXPORT_FIELDS = (
    "type", "id", "workspace", "status", "detail", "what", "rows_processed", "rows_failed", "queued_at", "started_at",
    "finished_at", "duration_seconds", "error", "retry", "admin_url",
)  # fmt: skip


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *[(s, s.capitalize()) for s in jobs.STATUSES]])
    type = forms.ChoiceField(required=False)
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "Every type"), *jobs.kinds().items()]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            raise forms.ValidationError("“From” is after “To”.")
        return cleaned

    def filters(self) -> jobs.JobFilters:
        """Days are UTC days, both ends included; a filter that does not validate is left out."""
        data = self.cleaned_data if self.is_valid() else {}
        since, until = data.get("since"), data.get("until")
        return jobs.JobFilters(
            status=data.get("status") or None,
            kind=data.get("type") or None,
            since=datetime.combine(since, time.min, tzinfo=UTC) if since else None,
            until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC) if until else None,
        )


def _query_without_cursor(request) -> str:
    query = request.GET.copy()
    query.pop("after", None)
    return query.urlencode()


@staff_member_required
def jobs_page(request):
    form = JobFilterForm(request.GET or None)
    filters = form.filters()
    page = jobs.jobs_page(filters=filters, cursor=request.GET.get("after"))
    query = _query_without_cursor(request)
    context = {
        **admin.site.each_context(request),
        "title": "Jobs",
        "form": form,
        "page": page,
        "query": query,
        "next_query": f"{query}&after={page.next_cursor}" if query else f"after={page.next_cursor}",
        "is_first_page": not request.GET.get("after"),
        "totals": jobs.jobs_totals(),
        "kinds": jobs.kinds(),
        "auto_pull_next_run": jobs.auto_pull_next_run(),
        "filtered": any((filters.status, filters.kind, filters.since, filters.until)),
    }
    return render(request, "admin/jobs.html", context)


def _export_line(row: jobs.JobRow) -> tuple:
    return (
        row.kind_label,
        row.id,
        row.workspace,
        row.status,
        row.status_detail,
        row.title,
        row.rows_processed,
        row.rows_failed,
        row.created.isoformat(),
        row.started.isoformat() if row.started else "",
        row.finished.isoformat() if row.finished else "",
        round(row.duration.total_seconds(), 3) if row.duration is not None else "",
        row.error,
        row.retry,
        row.url,
    )


@staff_member_required
def jobs_export(request):
    """The filtered list as CSV, streamed a page of every source at a time."""
    filters = JobFilterForm(request.GET or None).filters()
    lines = (_export_line(row) for row in jobs.jobs_iter(filters=filters))
    response = StreamingHttpResponse(csv_rows(lines, EXPORT_FIELDS), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cursive-jobs-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


@staff_member_required
@require_http_methods(["GET", "POST"])
def job_retry(request, source: str, job_id: str):
    """GET asks to confirm; POST retries through the owning app's service."""
    back = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) or not back.startswith(
        reverse("staff-jobs")
    ):
        back = reverse("staff-jobs")
    try:
        row = jobs.job_row_get(source=source, job_id=job_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if request.method == "POST":
        try:
            services.staff_job_retry(source=source, job_id=job_id, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{row.kind_label} #{row.id} queued again.")
        return redirect(back)
    context = {**admin.site.each_context(request), "title": "Retry a failed job", "row": row, "next": back}
    return render(request, "admin/job_retry.html", context)
