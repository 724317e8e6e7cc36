from accounts.models import Workspace

from .duplicates import duplicates_scan
from .services import leads_rescore_workspace


def rescore_workspace(*, workspace_id: int) -> None:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:
        leads_rescore_workspace(workspace=workspace)


def scan_workspace_duplicates(*, workspace_id: int) -> None:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:
        duplicates_scan(kind="lead", workspace=workspace)
