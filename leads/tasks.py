from accounts.models import Workspace

from .services import leads_rescore


def rescore_workspace(*, workspace_id: int) -> None:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:
        leads_rescore(workspace=workspace)
