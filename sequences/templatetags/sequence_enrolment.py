"""For My Leads' "Add to sequence" bulk action: the leads app's templates ask for the sequences here, since
leads must not import sequences."""

from django import template

from sequences import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def enrolment_sequences(context) -> list:
    workspace = getattr(context.get("request"), "workspace", None)
    if workspace is None:
        return []
    return list(selectors.sequences_list(workspace=workspace).select_related(None).only("pk", "name", "status"))
