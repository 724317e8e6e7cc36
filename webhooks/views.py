"""Settings -> Webhooks: endpoints and Slack alerts, their delivery log, and what to do after an outage.

Like the API, only owners and admins manage endpoints: they decide where the workspace's data goes.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import workspace_required
from cursive.errors import ApplicationError, ValidationFailed
from cursive.htmx import push_url
from cursive.pagination import keyset_paginate
from cursive.views import or_404

from . import selectors, services, tasks
from .forms import DeliveryFilterForm, EndpointForm, ReplayForm, SlackAlertForm
from .models import Endpoint

DELIVERIES_PAGE_SIZE = 25
DELIVERY_ORDERING = ("-id",)

manager_required = workspace_required(manager=True)


def _endpoint(request, endpoint_id) -> Endpoint:
    return or_404(selectors.endpoint_get, workspace=request.workspace, endpoint_id=endpoint_id)


def _refused(form, exc: ApplicationError) -> None:
    """The service's sentence on the field it names (an unsafe URL, an unknown event), else above the form."""
    field = next((name for name in exc.fields if name in form.fields), None)
    form.add_error(field, exc.message)


@manager_required
def endpoint_list(request):
    endpoints = list(selectors.endpoints_with_last_delivery(workspace=request.workspace))
    return render(request, "webhooks/endpoints.html", {"endpoints": endpoints})


@manager_required
def endpoint_new(request):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(workspace=request.workspace, kind=Endpoint.Kind.WEBHOOK, **form.changes())
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            # The one answer that carries the secret: the endpoint's page never shows it again.
            return render(request, "webhooks/created.html", {"endpoint": endpoint, "secret": endpoint.secret}, status=201)
    return render(request, "webhooks/endpoint_new.html", {"form": form, "kind": Endpoint.Kind.WEBHOOK})


@manager_required
def slack_new(request):
    form = SlackAlertForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(workspace=request.workspace, kind=Endpoint.Kind.SLACK, **form.changes())
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            messages.success(request, "Slack alert added. Send a test event to see it in your channel.")
            return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)
    return render(request, "webhooks/endpoint_new.html", {"form": form, "kind": Endpoint.Kind.SLACK})


def _form_for(endpoint: Endpoint, data=None):
    form_class = SlackAlertForm if endpoint.kind == Endpoint.Kind.SLACK else EndpointForm
    return form_class.for_endpoint(endpoint, data)


def _log_filters(request) -> tuple[DeliveryFilterForm, str | None]:
    """The log's status filter; a value that is not a status shows every delivery rather than an error."""
    filters = DeliveryFilterForm(request.GET)
    return filters, (filters.cleaned_data["status"] or None) if filters.is_valid() else None


def _replay_offer(request, endpoint: Endpoint) -> int:
    """After re-enabling an endpoint Cursive had disabled: how many events it missed since then."""
    if request.GET.get("replay") != "missed" or endpoint.status != Endpoint.Status.ENABLED or endpoint.disabled_at is None:
        return 0
    return selectors.endpoint_missed_events(endpoint=endpoint, since=endpoint.disabled_at).count()


def _detail_context(request, endpoint: Endpoint, **extra) -> dict:
    filters, status = _log_filters(request)
    cursor = request.GET.get("cursor") or None
    page = keyset_paginate(
        selectors.endpoint_deliveries(endpoint=endpoint, status=status),
        ordering=DELIVERY_ORDERING,
        cursor=cursor,
        page_size=DELIVERIES_PAGE_SIZE,
    )
    since = timezone.localtime() - timezone.timedelta(days=1)
    context = {
        "endpoint": endpoint,
        "form": _form_for(endpoint),
        "replay_form": ReplayForm(initial={"since": since.replace(second=0, microsecond=0)}),
        "filters": filters,
        "query": urlencode({"status": status}) if status else "",
        "page": page,
        "missed": _replay_offer(request, endpoint),
        "now": timezone.now(),
    }
    context.update(extra)
    return context


@manager_required
@vary_on_headers("HX-Request")
def endpoint_detail(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    if request.method == "POST":
        form = _form_for(endpoint, request.POST)
        if form.is_valid():
            try:
                services.endpoint_update(workspace=request.workspace, endpoint_id=endpoint.pk, **form.changes())
            except ApplicationError as exc:
                _refused(form, exc)
            else:
                messages.success(request, "Endpoint saved.")
                return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)
        return render(request, "webhooks/endpoint_detail.html", _detail_context(request, endpoint, form=form))
    try:
        context = _detail_context(request, endpoint)
    except ValidationFailed:
        return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)
    if request.htmx and request.GET.get("cursor"):
        return render(request, "webhooks/endpoint_detail.html#delivery-rows", context)
    if request.htmx and request.htmx.target == "delivery-log":
        response = render(request, "webhooks/endpoint_detail.html#delivery-log", context)
        push_url(response, reverse("webhooks:endpoint_detail", args=[endpoint.pk]), context["query"])
        return response
    return render(request, "webhooks/endpoint_detail.html", context)


@manager_required
@require_POST
def endpoint_status(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    status = request.POST.get("status", "")
    disabled_by_cursive = endpoint.disabled_by in (Endpoint.DisabledBy.GONE, Endpoint.DisabledBy.FAILING)
    endpoint = services.endpoint_update(workspace=request.workspace, endpoint_id=endpoint.pk, status=status)
    url = reverse("webhooks:endpoint_detail", args=[endpoint.pk])
    if endpoint.status == Endpoint.Status.DISABLED:
        messages.success(request, "Endpoint disabled: events are no longer sent to it.")
        return redirect(url)
    messages.success(request, "Endpoint enabled.")
    tasks.wake_deliverers()
    if disabled_by_cursive:
        return redirect(f"{url}?replay=missed")
    return redirect(url)


@manager_required
@require_POST
def endpoint_test(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    services.endpoint_send_test(workspace=request.workspace, endpoint_id=endpoint.pk)
    messages.success(request, "Test event sent: it appears in the delivery log below within seconds.")
    return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)


@manager_required
@require_POST
def endpoint_rotate(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    if endpoint.kind != Endpoint.Kind.WEBHOOK:
        raise ValidationFailed("Slack alerts are not signed: there is no secret to rotate.")
    endpoint = services.endpoint_rotate_secret(workspace=request.workspace, endpoint_id=endpoint.pk)
    # The one answer that carries the new secret.
    return render(request, "webhooks/endpoint_detail.html", _detail_context(request, endpoint, new_secret=endpoint.secret))


@manager_required
@require_POST
def endpoint_delete(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    services.endpoint_delete(workspace=request.workspace, endpoint_id=endpoint.pk)
    messages.success(request, f"Endpoint {endpoint.url} deleted, with its delivery log.")
    return redirect("webhooks:endpoint_list")


@manager_required
@vary_on_headers("HX-Request")
def endpoint_replay(request, endpoint_id: int):
    """GET: how many events a replay since that moment would send, to confirm; POST: replay them."""
    endpoint = _endpoint(request, endpoint_id)
    form = ReplayForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        raise ValidationFailed(f"Choose when to replay from: {form.errors['since'][0]}", fields={"since": form.errors["since"]})
    since = form.cleaned_data["since"]
    if request.method == "POST":
        count = services.endpoint_replay(workspace=request.workspace, endpoint_id=endpoint.pk, since=since)
        tasks.wake_deliverers()
        messages.success(request, f"{count} event{'' if count == 1 else 's'} will be delivered again, in order.")
        return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)
    context = {
        "endpoint": endpoint,
        "since": since,
        "count": selectors.endpoint_missed_events(endpoint=endpoint, since=since).count(),
    }
    if request.htmx:
        return render(request, "webhooks/replay_confirm.html#confirm", context)
    return render(request, "webhooks/replay_confirm.html", context)


@manager_required
@vary_on_headers("HX-Request")
def delivery_detail(request, endpoint_id: int, delivery_id: int):
    endpoint = _endpoint(request, endpoint_id)
    delivery = or_404(selectors.delivery_get, endpoint=endpoint, delivery_id=delivery_id)
    context = {"endpoint": endpoint, "delivery": delivery, "payload": services.payload(delivery.event).decode()}
    if request.htmx:
        return render(request, "webhooks/delivery_detail.html#delivery", context)
    return render(request, "webhooks/delivery_detail.html", context)


@manager_required
@require_POST
def delivery_retry(request, endpoint_id: int, delivery_id: int):
    endpoint = _endpoint(request, endpoint_id)
    services.delivery_retry(workspace=request.workspace, endpoint_id=endpoint.pk, delivery_id=delivery_id)
    # Due now: a worker starts at once rather than at the next minute's schedule.
    tasks.wake_deliverers()
    if endpoint.status == Endpoint.Status.ENABLED:
        messages.success(request, "Delivering that message again now.")
    else:
        messages.success(request, "That message goes out again as soon as the endpoint is enabled.")
    return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)
