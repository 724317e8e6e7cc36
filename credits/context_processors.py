from django.utils.functional import SimpleLazyObject

from .selectors import credit_account


def balance(request):
    """The nav's balance widget; queried only on pages that render it."""
    workspace = getattr(request, "workspace", None)
    if workspace is None:
        return {}
    return {"credit_account": SimpleLazyObject(lambda: credit_account(workspace=workspace))}
