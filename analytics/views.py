from datetime import timedelta

from django.conf import settings
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from credits.selectors import credit_account, onboarding_status
from cursive.replicas import reads_from_replica
from leads.selectors import workspace_lead_count
from partners.selectors import workspace_uploads

from . import selectors
from .charts import chart_alternatives

# Where each getting-started step is done; the step is ticked by doing it there, not by visiting the page.
STEP_URLS = {
    "buy_credits": "credits:page",
    "search_database": "segments:search",
    "create_segment": "segments:search",
    "install_pixel": "visitors:pixel_list",
    "add_webhook": "webhooks:endpoint_new",
}
# How long the "onboarding complete" line stays on the dashboard after the bonus, unless dismissed sooner.
COMPLETE_NOTICE_FOR = timedelta(days=7)


def _notice_dismissed_key(workspace) -> str:
    return f"onboarding_notice_dismissed:{workspace.pk}"


def _getting_started(request) -> dict:
    """A buyer workspace's five steps of the contract; a partner's start is its first upload instead."""
    workspace = request.workspace
    if workspace.is_partner:
        return {"partner": True, "show_partner_start": not workspace_uploads(workspace=workspace).exists()}
    status = onboarding_status(workspace=workspace)
    granted_at = status["bonus_granted_at"]
    return {
        **status,
        "steps": [{**step, "url": STEP_URLS[step["key"]]} for step in status["steps"]],
        "show_checklist": status["completed"] < status["total"],
        "show_complete": granted_at is not None
        and timezone.now() - granted_at < COMPLETE_NOTICE_FOR
        and not request.session.get(_notice_dismissed_key(workspace)),
    }


def _suggestion(request, lead_count: int) -> dict | None:
    """One next step that fits where the workspace is, once it has leads."""
    if lead_count == 0:
        return None
    if request.workspace.is_partner:
        return {"text": "Upload another file: listings sell best in their first weeks.", "url": "partners:upload_start"}
    if not selectors.ideal_customer_profile_set(workspace=request.workspace):
        return {"text": "Tell us who you sell to, and your leads will be scored on how well they fit.", "url": "leads:profile"}
    return {"text": "Save a Lead Search as a segment and pull fresh people whenever you need more.", "url": "segments:search"}


@workspace_required
def dashboard(request):
    lead_count = workspace_lead_count(workspace=request.workspace)
    return render(
        request,
        "analytics/dashboard.html",
        {
            "lead_count": lead_count,
            "account": credit_account(workspace=request.workspace),
            "week": selectors.week_glance(workspace=request.workspace),
            "visitors_today": selectors.visitors_today(workspace=request.workspace),
            "onboarding": _getting_started(request),
            "bonus_credits": settings.ONBOARDING_BONUS_CREDITS,
            "suggestion": _suggestion(request, lead_count),
        },
    )


@workspace_required
@require_POST
def onboarding_notice_dismiss(request):
    request.session[_notice_dismissed_key(request.workspace)] = True
    return redirect("dashboard")


@workspace_required
@reads_from_replica
def analytics_page(request):
    period = request.GET.get("period", "30")
    days = int(period) if period.isdigit() and int(period) in selectors.PERIODS else 30
    summary = selectors.workspace_summary(workspace=request.workspace, days=days)
    return render(
        request,
        "analytics/page.html",
        {
            "summary": summary,
            "charts": chart_alternatives(summary),
            "periods": selectors.PERIODS,
            "days": days,
            "has_usage": any(row["spent"] or row["added"] for row in summary["credit_usage"]),
            "has_leads": any(row["leads"] for row in summary["daily_acquisition"]),
            "has_quality": any(row["leads"] for row in summary["quality"]),
        },
    )
