"""Reads of a workspace's leads."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Workspace
from cursive.errors import NotFound

from .models import Lead


def workspace_leads(*, workspace: Workspace, source: str | None = None, status: str | None = None,
                    tag: str | None = None) -> QuerySet[Lead]:
    leads = Lead.objects.filter(workspace=workspace)
    if source:
        leads = leads.filter(source=source)
    if status:
        leads = leads.filter(status=status)
    if tag:
        leads = leads.filter(tags__contains=[tag])
    return leads


def lead_get(*, workspace: Workspace, lead_id) -> Lead:
    lead = Lead.objects.filter(workspace=workspace, pk=lead_id).first()
    if lead is None:
        raise NotFound("That lead does not exist in this workspace.")
    return lead


def workspace_lead_count(*, workspace: Workspace) -> int:
    return Lead.objects.filter(workspace=workspace).count()
