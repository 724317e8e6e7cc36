"""Every background job of every kind, as uniform rows, for the staff Jobs page (analytics.jobs_views).

Each kind of job lives in the app that runs it; a small adapter per source of rows (a `Source`) says how to
read that app's table: which columns, how its statuses map onto the five shown here, when a job was queued,
how many rows it imported, how long it took, and how a failed one is retried (through the owning app's own
service) or why it is not. A page asks every source for one page of its newest rows matching the filters (one
query each, the filters and a limit in SQL), then merges them newest first. Each source pages by its own
keyset, so no page reads a whole table, and a row that is not in time order within its table is still shown
exactly once.

To add a kind, subclass `Source` (set `key`, `kind`, `label`, `model`, `fields`, `native`, and write `row()`;
`imported`, `duration` and `retry()` when they apply) and add an instance to `SOURCES`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, ExpressionWrapper, F, FloatField, Func, Q, Sum, Value
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_q.models import Schedule, Task

from cursive import jobs as cursive_jobs
from cursive.errors import Conflict, NotFound
from cursive.models import Job
from enrichment.models import Enrichment
from partners.models import Upload
from segments.models import SegmentRun
from sequences.models import Message
from webhooks import services as webhook_services
from webhooks import tasks as webhook_tasks
from webhooks.models import Delivery

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
PAGE_SIZE = 50
ERROR_CHARS = 500


@dataclass(frozen=True)
class JobFilters:
    status: str | None = None
    kind: str | None = None
    since: datetime | None = None  # queued at or after
    until: datetime | None = None  # queued before


@dataclass
class JobRow:
    source: str
    kind: str
    kind_label: str
    id: int | str
    title: str
    workspace_id: int | None
    workspace: str
    status: str
    status_detail: str
    rows_processed: int | None
    rows_failed: int | None
    created: datetime
    started: datetime | None
    finished: datetime | None
    duration: timedelta | None
    error: str
    url: str
    retry: str  # how a failed job of this kind is retried from here, or why it is not
    retryable: bool  # failed, and its kind can be retried from here

    @property
    def duration_seconds(self) -> float | None:
        return self.duration.total_seconds() if self.duration is not None else None


def _seconds(end: str, start: str) -> Func:
    return Func(F(end) - F(start), template="EXTRACT(EPOCH FROM %(expressions)s)", output_field=FloatField())


def _elapsed(start: datetime | None, end: datetime | None) -> timedelta | None:
    return end - start if start and end else None


class Source:
    key: str  # unique: names the source in cursors and retry URLs
    kind: str  # the type shown and filtered on; several sources may share one
    label: str
    model: type[models.Model]
    fields: tuple[str, ...]
    created = "created_at"  # when the job was queued: the page sorts, filters and totals on it
    order: tuple[str, ...] = ("id",)  # this source's keyset, read newest first
    native: dict[str, str]  # native status -> one of STATUSES
    status_field = "status"
    imported: models.Expression | None = None  # rows a succeeded job brought in, for the totals
    duration: models.Expression | None = None  # seconds a finished job took
    can_retry = False  # True when retry() queues a failed job again
    retry_note = "Not retried from here."

    def queryset(self) -> models.QuerySet:
        return self.model.objects.all()

    def status_q(self, status: str) -> Q | None:
        """The native rows in that status, or None when this source never has it."""
        natives = [native for native, normal in self.native.items() if normal == status]
        return Q(**{f"{self.status_field}__in": natives}) if natives else None

    def row(self, values: dict) -> JobRow:
        raise NotImplementedError

    def retry(self, *, job_id: str):
        """Queue a failed job again through the owning app's service; returns its workspace (or None)."""
        raise Conflict(f"{self.label} jobs cannot be retried from here: {self.retry_note}", code="job_not_retryable")

    def _row(self, values: dict, **fields) -> JobRow:
        status = self.native[values[self.status_field]]
        return JobRow(
            source=self.key,
            kind=self.kind,
            kind_label=self.label,
            id=values["id"],
            workspace_id=fields.pop("workspace_id", values.get("workspace_id")),
            workspace=fields.pop("workspace", values.get("workspace_name")) or "",
            status=status,
            created=values[self.created],
            retry=self.retry_note,
            retryable=status == FAILED and self.can_retry,
            **fields,
        )

    def filtered(self, filters: JobFilters) -> models.QuerySet | None:
        queryset = self.queryset()
        if filters.status:
            condition = self.status_q(filters.status)
            if condition is None:
                return None
            queryset = queryset.filter(condition)
        if filters.since:
            queryset = queryset.filter(**{f"{self.created}__gte": filters.since})
        if filters.until:
            queryset = queryset.filter(**{f"{self.created}__lt": filters.until})
        return queryset

    def after(self, queryset: models.QuerySet, position: list) -> models.QuerySet:
        """The rows after `position` (the keyset values of the last row shown), in descending keyset order."""
        values = [_cursor_value(value) for value in position]
        condition = Q(pk__in=[])
        for index, name in enumerate(self.order):
            equal = {self.order[before]: values[before] for before in range(index)}
            condition |= Q(**equal, **{f"{name}__lt": values[index]})
        return queryset.filter(condition)

    def fetch(self, queryset: models.QuerySet, limit: int) -> list[dict]:
        names = tuple(dict.fromkeys((*self.fields, *self.order, self.created)))
        return list(queryset.order_by(*[f"-{name}" for name in self.order]).values(*names)[:limit])

    def url(self, object_id) -> str:
        meta = self.model._meta
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[object_id])


def _cursor_value(value):
    if isinstance(value, str) and (moment := parse_datetime(value)) is not None:
        return moment
    return value


# --- The sources --------------------------------------------------------------------------------------------


class PartnerUploads(Source):
    key = kind = "partner_upload"
    label = "Partner upload"
    model = Upload
    fields = (
        "id", "workspace_id", "workspace__name", "original_name", "status", "total_rows", "valid_rows", "invalid_rows",
        "created_at", "started_at", "finished_at", "failure_message",
    )  # fmt: skip
    # Rejected by staff: the file was read, but none of it was imported.
    native = {
        "queued": QUEUED,
        "processing": RUNNING,
        "awaiting_review": SUCCEEDED,
        "listed": SUCCEEDED,
        "rejected": CANCELLED,
        "failed": FAILED,
    }
    imported = F("valid_rows")
    duration = _seconds("finished_at", "started_at")
    retry_note = "The file cannot be used as it is: the partner uploads a corrected file."

    def row(self, values):
        return self._row(
            values,
            title=values["original_name"],
            workspace=values["workspace__name"],
            status_detail=Upload.Status(values["status"]).label,
            rows_processed=values["total_rows"],
            rows_failed=values["invalid_rows"],
            started=values["started_at"],
            finished=values["finished_at"],
            duration=_elapsed(values["started_at"], values["finished_at"]),
            error=values["failure_message"][:ERROR_CHARS],
            url=self.url(values["id"]),
        )


class Enrichments(Source):
    key = kind = "enrichment"
    label = "Enrichment"
    model = Enrichment
    fields = (
        "id", "workspace_id", "workspace__name", "original_name", "status", "total_rows", "unusable_rows",
        "created_at", "finished_at", "failure_message",
    )  # fmt: skip
    # A list whose matching is done waits for its buyer's confirmation: the job itself has succeeded.
    native = {
        "queued": QUEUED,
        "matching": RUNNING,
        "awaiting_confirmation": SUCCEEDED,
        "processing": RUNNING,
        "complete": SUCCEEDED,
        "failed": FAILED,
        "cancelled": CANCELLED,
    }
    imported = F("enriched_rows")
    duration = _seconds("finished_at", "created_at")
    retry_note = "A failed list is not charged again from here: the buyer uploads it again."

    def row(self, values):
        return self._row(
            values,
            title=values["original_name"],
            workspace=values["workspace__name"],
            status_detail=Enrichment.Status(values["status"]).label,
            rows_processed=values["total_rows"],
            rows_failed=values["unusable_rows"],
            started=values["created_at"],
            finished=values["finished_at"],
            duration=_elapsed(values["created_at"], values["finished_at"]),
            error=values["failure_message"][:ERROR_CHARS],
            url=self.url(values["id"]),
        )


# The jobs another source shows as its own kind.
PIXEL_IDENTIFY_FUNC = "visitors.tasks.visitors_identify"
# Where a job's workspace is found: its `workspace_id` argument, or the row another of its arguments names.
_JOB_OWNER_ROWS = {
    "partners.tasks.process_upload": ("upload_id", "partners_upload"),
    "webhooks.tasks.email_owners": ("endpoint_id", "webhooks_endpoint"),
    "marketplace.tasks.send_purchase_confirmation": ("purchase_id", "marketplace_leadpurchase"),
    "credits.tasks.auto_reload_charge": ("purchase_id", "credits_creditpurchase"),
    "credits.tasks.billing_card_save": ("purchase_id", "credits_creditpurchase"),
    "credits.tasks.send_credit_receipt": ("purchase_id", "credits_creditpurchase"),
    "credits.tasks.send_auto_reload_failed": ("purchase_id", "credits_creditpurchase"),
}


def _job_argument(name: str) -> str:
    return f"CASE WHEN jsonb_typeof(cursive_job.kwargs -> '{name}') = 'number' THEN (cursive_job.kwargs ->> '{name}')::bigint END"


_JOB_WORKSPACE_ID = "CASE {owners} ELSE {own} END".format(
    owners=" ".join(
        f"WHEN cursive_job.func = '{func}' THEN (SELECT workspace_id FROM {table} WHERE id = {_job_argument(argument)})"  # noqa: S608
        for func, (argument, table) in _JOB_OWNER_ROWS.items()
    ),
    own=_job_argument("workspace_id"),
)
# A beacon request comes from one site: the pixel of an identification job's first visitor names its workspace.
_PIXEL_WORKSPACE_ID = """(SELECT p.workspace_id FROM visitors_visitor v JOIN visitors_pixel p ON p.id = v.pixel_id
WHERE v.id = (cursive_job.kwargs -> 'items' -> 0 ->> 'visitor')::bigint)"""


def _sql(sql: str, output_field: models.Field) -> RawSQL:
    """SQL written in this module from constants, never from input."""
    return RawSQL(sql, [], output_field=output_field)  # noqa: S611


def _workspace_name(workspace_id_sql: str) -> RawSQL:
    return _sql(f"SELECT name FROM accounts_workspace WHERE id = ({workspace_id_sql})", models.CharField())  # noqa: S608


class _Jobs(Source):
    model = Job
    native = {"pending": QUEUED, "running": RUNNING, "succeeded": SUCCEEDED, "failed": FAILED}
    duration = _seconds("finished_at", "started_at")
    can_retry = True
    retry_note = "Runs it again with a fresh set of attempts (cursive.jobs.job_retry)."

    def _detail(self, values) -> str:
        if values["status"] == "pending":
            if not values["attempts"]:
                return f"Waiting for a worker ({values['max_attempts']} attempts)"
            return f"Waiting to retry (attempt {values['attempts'] + 1} of {values['max_attempts']})"
        return f"{Job.Status(values['status']).label} (attempt {values['attempts']} of {values['max_attempts']})"

    def retry(self, *, job_id):
        with transaction.atomic():
            job = self.queryset().select_for_update().filter(pk=_int(job_id)).first()
            if job is None:
                raise NotFound("That job does not exist.")
            if job.status != Job.Status.FAILED:
                raise Conflict(f"Job #{job.pk} is {job.status}, not failed: nothing to retry.", code="job_not_failed")
            cursive_jobs.job_retry(job_id=job.pk)
        return None


class GenericJobs(_Jobs):
    key = kind = "job"
    label = "Side-effect job"
    fields = (
        "id", "func", "status", "attempts", "max_attempts", "last_error", "created_at", "started_at", "finished_at",
        "workspace_id", "workspace_name",
    )  # fmt: skip

    def queryset(self):
        return (
            Job.objects.exclude(func=PIXEL_IDENTIFY_FUNC)
            .annotate(workspace_id=_sql(_JOB_WORKSPACE_ID, models.BigIntegerField()))
            .annotate(workspace_name=_workspace_name(_JOB_WORKSPACE_ID))
        )

    def row(self, values):
        return self._row(
            values,
            title=values["func"],
            status_detail=self._detail(values),
            rows_processed=None,
            rows_failed=None,
            started=values["started_at"],
            finished=values["finished_at"],
            duration=_elapsed(values["started_at"], values["finished_at"]),
            error=values["last_error"][:ERROR_CHARS],
            url=self.url(values["id"]),
        )


class PixelIdentifications(_Jobs):
    """The identification backlog of the visitor pixel: one job per beacon request that carried something to
    identify a visitor by, each item one visitor to identify."""

    key = kind = "pixel_identification"
    label = "Pixel identification"
    fields = (
        "id", "status", "attempts", "max_attempts", "last_error", "created_at", "started_at", "finished_at", "items",
        "workspace_id", "workspace_name",
    )  # fmt: skip

    def queryset(self):
        return Job.objects.filter(func=PIXEL_IDENTIFY_FUNC).annotate(
            items=_sql("COALESCE(jsonb_array_length(cursive_job.kwargs -> 'items'), 0)", models.IntegerField()),
            workspace_id=_sql(_PIXEL_WORKSPACE_ID, models.BigIntegerField()),
            workspace_name=_workspace_name(_PIXEL_WORKSPACE_ID),
        )

    def row(self, values):
        return self._row(
            values,
            title=f"Identify {values['items']} visitor{'' if values['items'] == 1 else 's'}",
            status_detail=self._detail(values),
            rows_processed=values["items"],
            rows_failed=values["items"] if values["status"] == "failed" else 0,
            started=values["started_at"],
            finished=values["finished_at"],
            duration=_elapsed(values["started_at"], values["finished_at"]),
            error=values["last_error"][:ERROR_CHARS],
            url=self.url(values["id"]),
        )


class SegmentAutoPulls(Source):
    """Each automatic pull that ran: a SegmentRun is written only by a pull that went through."""

    key = kind = "segment_auto_pull"
    label = "Segment auto-pull"
    model = SegmentRun
    fields = (
        "id", "mode", "segment__name", "segment__workspace_id", "segment__workspace__name", "pulled", "skipped_owned",
        "credits_charged", "created_at",
    )  # fmt: skip
    native = {"auto_pull": SUCCEEDED}
    status_field = "mode"
    imported = F("pulled")
    retry_note = "A pull that ran is not repeated: the next one comes with the daily schedule."

    def queryset(self):
        return SegmentRun.objects.filter(mode=SegmentRun.Mode.AUTO_PULL)

    def row(self, values):
        return self._row(
            values,
            title=f"“{values['segment__name']}”: {values['credits_charged']} credits",
            workspace_id=values["segment__workspace_id"],
            workspace=values["segment__workspace__name"],
            status_detail=f"{values['pulled']} pulled, {values['skipped_owned']} already owned",
            rows_processed=values["pulled"],
            rows_failed=0,
            started=values["created_at"],
            finished=values["created_at"],
            duration=None,
            error="",
            url=self.url(values["id"]),
        )


AUTO_PULL_FUNC = "segments.services.segments_auto_pull"


class SegmentAutoPullFailures(Source):
    """Runs of the daily auto-pull schedule that raised (django-q2 keeps failed tasks): no SegmentRun says so."""

    key = "segment_auto_pull_schedule"
    kind = SegmentAutoPulls.kind
    label = SegmentAutoPulls.label
    model = Task
    fields = ("id", "name", "started", "stopped", "result", "success")
    created = "started"
    order = ("started", "id")
    native = {False: FAILED}
    status_field = "success"
    duration = _seconds("stopped", "started")
    retry_note = "Pulls charge credits: the schedule runs it again tomorrow, or staff run it by hand."

    def queryset(self):
        return Task.objects.filter(func=AUTO_PULL_FUNC, success=False)

    def status_q(self, status):
        return Q() if status == FAILED else None

    def row(self, values):
        error = str(values["result"] or "").strip().splitlines()
        return self._row(
            values,
            title="Daily automatic segment pulls",
            status_detail="The scheduled run raised",
            rows_processed=None,
            rows_failed=None,
            started=values["started"],
            finished=values["stopped"],
            duration=_elapsed(values["started"], values["stopped"]),
            error=(error[-1] if error else "")[:ERROR_CHARS],
            url=reverse("admin:django_q_failure_change", args=[values["id"]]),
        )


class WebhookDeliveries(Source):
    key = kind = "webhook_delivery"
    label = "Webhook delivery"
    model = Delivery
    fields = (
        "id", "endpoint_id", "endpoint__url", "endpoint__workspace_id", "endpoint__workspace__name", "event__type",
        "status", "attempts", "response_status", "response_body", "error", "duration_ms", "created_at",
        "last_attempt_at",
    )  # fmt: skip
    native = {"pending": QUEUED, "succeeded": SUCCEEDED, "failed": FAILED}
    duration = ExpressionWrapper(F("duration_ms") / Value(1000.0), output_field=FloatField())
    can_retry = True
    retry_note = "Delivers that message again now, or once its endpoint is enabled (webhooks.services.delivery_retry)."

    def row(self, values):
        error = values["error"]
        if not error and values["response_status"] and values["status"] != "succeeded":
            error = f"HTTP {values['response_status']}: {values['response_body']}"
        duration = timedelta(milliseconds=values["duration_ms"]) if values["duration_ms"] is not None else None
        detail = Delivery.Status(values["status"]).label
        if values["attempts"]:
            detail += f" after {values['attempts']} attempt{'' if values['attempts'] == 1 else 's'}"
        return self._row(
            values,
            title=f"{values['event__type']} to {values['endpoint__url']}",
            workspace_id=values["endpoint__workspace_id"],
            workspace=values["endpoint__workspace__name"],
            status_detail=detail,
            rows_processed=None,
            rows_failed=None,
            started=values["last_attempt_at"],
            finished=values["last_attempt_at"] + duration if values["last_attempt_at"] and duration else None,
            duration=duration,
            error=error[:ERROR_CHARS],
            url=self.url(values["id"]),
        )

    def retry(self, *, job_id):
        delivery = Delivery.objects.select_related("endpoint__workspace").filter(pk=_int(job_id)).first()
        if delivery is None:
            raise NotFound("That delivery does not exist.")
        if delivery.status != Delivery.Status.FAILED:
            raise Conflict(f"Delivery #{delivery.pk} is {delivery.status}, not failed: nothing to retry.", code="job_not_failed")
        workspace = delivery.endpoint.workspace
        webhook_services.delivery_retry(workspace=workspace, endpoint_id=delivery.endpoint_id, delivery_id=delivery.pk)
        # Due now: a delivery loop starts at once rather than at the next minute's schedule.
        transaction.on_commit(webhook_tasks.wake_deliverers)
        return workspace


class SequenceSends(Source):
    key = kind = "sequence_send"
    label = "Sequence send"
    model = Message
    fields = (
        "id", "workspace_id", "workspace__name", "to_email", "subject", "status", "attempts", "error", "claimed_at",
        "sent_at",
    )  # fmt: skip
    created = "claimed_at"
    # Unknown: the worker died mid-send, and the message is never sent again in case it went out.
    native = {"retry": QUEUED, "sending": RUNNING, "sent": SUCCEEDED, "failed": FAILED, "unknown": FAILED}
    duration = _seconds("sent_at", "claimed_at")
    retry_note = "A failed send stopped its enrolment, and sending again could reach the person twice."

    def row(self, values):
        error = values["error"]
        if values["status"] == "unknown" and not error:
            error = "The worker stopped mid-send; not sent again in case it went out."
        return self._row(
            values,
            title=f"“{values['subject']}” to {values['to_email']}",
            workspace=values["workspace__name"],
            status_detail=f"{Message.Status(values['status']).label} (attempt {values['attempts']})",
            rows_processed=None,
            rows_failed=None,
            started=values["claimed_at"],
            finished=values["sent_at"],
            duration=_elapsed(values["claimed_at"], values["sent_at"]),
            error=error[:ERROR_CHARS],
            url=self.url(values["id"]),
        )


SOURCES: tuple[Source, ...] = (
    PartnerUploads(),
    Enrichments(),
    GenericJobs(),
    SegmentAutoPulls(),
    SegmentAutoPullFailures(),
    WebhookDeliveries(),
    SequenceSends(),
    PixelIdentifications(),
)


def kinds() -> dict[str, str]:
    """Kind -> label, in the order of SOURCES."""
    return {source.kind: source.label for source in SOURCES}


def source_get(key: str) -> Source:
    for source in SOURCES:
        if source.key == key:
            return source
    raise NotFound("No such kind of job.")


def job_row_get(*, source: str, job_id: str) -> JobRow:
    adapter = source_get(source)
    try:
        rows = adapter.fetch(adapter.queryset().filter(pk=job_id), 1)
    except (TypeError, ValueError, ValidationError):
        rows = []
    if not rows:
        raise NotFound("That job does not exist.")
    return adapter.row(rows[0])


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound("That job does not exist.") from None


# --- Pages, exports and totals -------------------------------------------------------------------------------


@dataclass
class JobPage:
    rows: list[JobRow]
    next_cursor: str | None  # None on the last page


def _encode(positions: dict[str, list]) -> str:
    text = json.dumps(positions, default=lambda value: value.isoformat(), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> dict[str, list]:
    """A cursor from a link; one that was tampered with starts from the newest jobs again."""
    if not cursor:
        return {}
    try:
        positions = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        return {}
    if not isinstance(positions, dict):
        return {}
    known = {source.key: len(source.order) for source in SOURCES}
    return {
        key: value
        for key, value in positions.items()
        if key in known and isinstance(value, list) and len(value) == known[key] and all(isinstance(v, (int, str)) for v in value)
    }


def jobs_page(*, filters: JobFilters, cursor: str | None = None, limit: int = PAGE_SIZE) -> JobPage:
    """One page of jobs, newest first: one query per source that can match the filters, whatever the tables hold."""
    positions = _decode(cursor)
    streams: list[tuple[Source, list[dict]]] = []
    for source in SOURCES:
        if filters.kind and source.kind != filters.kind:
            continue
        queryset = source.filtered(filters)
        if queryset is None:
            continue
        if source.key in positions:
            try:
                queryset = source.after(queryset, positions[source.key])
            except (TypeError, ValueError, ValidationError):
                positions.pop(source.key)  # a tampered cursor: that source starts again from its newest
        streams.append((source, source.fetch(queryset, limit + 1)))
    # Merge by taking the newest of the streams' heads: each source's rows leave in its own keyset order, so its
    # cursor (the last row taken) never skips a row even where queue time and keyset order disagree.
    heads = [0] * len(streams)
    taken: list[tuple[Source, dict]] = []
    while len(taken) < limit:
        waiting = [index for index, (_, rows) in enumerate(streams) if heads[index] < len(rows)]
        if not waiting:
            break
        best = max(waiting, key=lambda index: streams[index][1][heads[index]][streams[index][0].created])
        source, rows = streams[best]
        values = rows[heads[best]]
        heads[best] += 1
        taken.append((source, values))
        positions[source.key] = [values[name] for name in source.order]
    more = any(heads[index] < len(rows) for index, (_, rows) in enumerate(streams))
    return JobPage(rows=[source.row(values) for source, values in taken], next_cursor=_encode(positions) if more else None)


EXPORT_BATCH = 500


def jobs_iter(*, filters: JobFilters) -> Iterator[JobRow]:
    """Every job matching the filters, newest first, read a page at a time (memory stays bounded)."""
    cursor = None
    while True:
        page = jobs_page(filters=filters, cursor=cursor, limit=EXPORT_BATCH)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@dataclass
class Totals:
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    imported: int | None = None  # None: the kind imports no rows
    duration_seconds: float = 0.0
    timed: int = 0

    @property
    def success_rate(self) -> float | None:
        """Percent of the finished jobs (succeeded or failed) that succeeded."""
        finished = self.succeeded + self.failed
        return round(100 * self.succeeded / finished, 1) if finished else None

    @property
    def average_seconds(self) -> float | None:
        return round(self.duration_seconds / self.timed, 2) if self.timed else None

    def add(self, other: Totals) -> None:
        self.jobs += other.jobs
        self.succeeded += other.succeeded
        self.failed += other.failed
        if other.imported is not None:
            self.imported = (self.imported or 0) + other.imported
        self.duration_seconds += other.duration_seconds
        self.timed += other.timed


PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}


@dataclass
class JobTotals:
    periods: tuple[str, ...]
    by_kind: dict[str, dict[str, Totals]] = field(default_factory=dict)  # kind -> period -> totals
    overall: dict[str, Totals] = field(default_factory=dict)

    def table(self) -> list[tuple[str, str, dict[str, Totals]]]:
        """(kind, label, period -> totals) of each kind with jobs in the longest period, in the order of SOURCES."""
        labels, longest = kinds(), self.periods[-1]
        return [(kind, labels[kind], by_period) for kind, by_period in self.by_kind.items() if by_period[longest].jobs]

    def idle(self) -> list[str]:
        """The labels of the kinds without a job in the longest period."""
        labels, longest = kinds(), self.periods[-1]
        return [labels[kind] for kind, by_period in self.by_kind.items() if not by_period[longest].jobs]


def _source_totals(source: Source, now: datetime) -> dict[str, Totals]:
    succeeded, failed = source.status_q(SUCCEEDED), source.status_q(FAILED)
    nothing = Q(pk__in=[])
    finished = (succeeded or nothing) | (failed or nothing)
    aggregates = {}
    for period, length in PERIODS.items():
        within = Q(**{f"{source.created}__gte": now - length})
        aggregates[f"{period}_jobs"] = Count("pk", filter=within)
        aggregates[f"{period}_succeeded"] = Count("pk", filter=within & (succeeded or nothing))
        aggregates[f"{period}_failed"] = Count("pk", filter=within & (failed or nothing))
        if source.imported is not None:
            aggregates[f"{period}_imported"] = Sum(source.imported, filter=within & (succeeded or nothing))
        if source.duration is not None:
            aggregates[f"{period}_duration"] = Sum(source.duration, filter=within & finished)
            aggregates[f"{period}_timed"] = Count(source.duration, filter=within & finished)
    longest = max(PERIODS.values())
    figures = source.queryset().filter(**{f"{source.created}__gte": now - longest}).aggregate(**aggregates)
    return {
        period: Totals(
            jobs=figures[f"{period}_jobs"],
            succeeded=figures[f"{period}_succeeded"],
            failed=figures[f"{period}_failed"],
            imported=(figures[f"{period}_imported"] or 0) if source.imported is not None else None,
            duration_seconds=figures.get(f"{period}_duration") or 0.0,
            timed=figures.get(f"{period}_timed") or 0,
        )
        for period in PERIODS
    }


def jobs_totals(*, now: datetime | None = None) -> JobTotals:
    """Jobs queued in the last 24 hours and 7 days, per kind and overall: how many, the success rate of those
    that finished, rows imported and the average duration. One aggregate query per source."""
    now = now or timezone.now()
    totals = JobTotals(periods=tuple(PERIODS), overall={period: Totals() for period in PERIODS})
    for source in SOURCES:
        kind = totals.by_kind.setdefault(source.kind, {period: Totals() for period in PERIODS})
        for period, figures in _source_totals(source, now).items():
            kind[period].add(figures)
            totals.overall[period].add(figures)
    return totals


def auto_pull_next_run() -> datetime | None:
    return Schedule.objects.filter(func=AUTO_PULL_FUNC).order_by("next_run").values_list("next_run", flat=True).first()
