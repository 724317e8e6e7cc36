from django.shortcuts import render

from accounts.decorators import workspace_required
from accounts.selectors import workspace_api_keys, workspace_members
from leads.selectors import workspace_lead_count


def _getting_started(request, lead_count: int) -> list[dict]:
    workspace = request.workspace
    return [
        {"label": "Create your workspace", "done": True, "url": None},
        {"label": "Invite a teammate", "done": workspace_members(workspace=workspace).count() > 1,
         "url": "accounts:settings"},
        {"label": "Create an API key for your CRM or scripts",
         "done": workspace_api_keys(workspace=workspace).exists(), "url": "accounts:settings"},
        {"label": "Get your first lead", "done": lead_count > 0, "url": "leads:new"},
    ]


@workspace_required
def dashboard(request):
    lead_count = workspace_lead_count(workspace=request.workspace)
    checklist = _getting_started(request, lead_count)
    return render(request, "analytics/dashboard.html", {
        "lead_count": lead_count,
        "checklist": checklist,
        "checklist_done": sum(item["done"] for item in checklist),
        "show_checklist": lead_count == 0 or not all(item["done"] for item in checklist),
    })
