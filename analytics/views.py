from django.shortcuts import render

from accounts.decorators import workspace_required
from accounts.selectors import workspace_api_keys, workspace_members
from credits.selectors import credit_account
from leads.selectors import workspace_lead_count

from . import selectors
from .charts import chart_alternatives


def _getting_started(request, lead_count: int) -> list[dict]:
    workspace = request.workspace
    return [
        {"label": "Create your workspace", "done": True, "url": None},
        {"label": "Invite a teammate", "done": workspace_members(workspace=workspace).count() > 1, "url": "accounts:settings"},
        {
            "label": "Create an API key for your CRM or scripts",
            "done": workspace_api_keys(workspace=workspace).exists(),
            "url": "accounts:settings",
        },
        {
            "label": "Get your first lead",
            "done": lead_count > 0,
            "url": "partners:upload_start" if workspace.is_partner else "marketplace:browse",
        },
    ]


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
    checklist = _getting_started(request, lead_count)
    done = sum(item["done"] for item in checklist)
    return render(
        request,
        "analytics/dashboard.html",
        {
            "lead_count": lead_count,
            "account": credit_account(workspace=request.workspace),
            "week": selectors.week_glance(workspace=request.workspace),
            "visitors_today": selectors.visitors_today(workspace=request.workspace),
            "checklist": checklist,
            "checklist_done": done,
            "show_checklist": done < len(checklist),
            "suggestion": _suggestion(request, lead_count),
        },
    )


@workspace_required
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
